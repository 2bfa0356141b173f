//! How each MySQL column type travels: in the snapshot's COPY text, and as a bound
//! parameter of an INSERT. Most types are the server's own text both ways; the
//! exceptions are here.

use crate::db::evaluate::plain_literal;
use crate::db::schema::{Column, TypeKind, quote_literal};
use crate::db::value::Value;

/// A column's representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// The server's text form, bound as a string (numbers, dates, ENUM, SET, JSON...).
    Text,
    /// FLOAT: read as DOUBLE (the text protocol prints FLOAT with six digits only;
    /// the DOUBLE of a FLOAT is exact and rounds back to the same FLOAT).
    Float,
    /// Binary strings: `\\x` hex in COPY text, bytes when bound. `max` bytes (a
    /// generated value longer than that is cut; a restored one never is).
    Binary { max: Option<u32> },
    /// BIT(n): `n` binary digits in COPY text (as PostgreSQL prints bit strings), an
    /// unsigned integer when bound.
    Bits(u32),
    /// Spatial types: the server's internal form (4-byte SRID + WKB) as bytes, which it
    /// also accepts back.
    Spatial { shape: Shape, srid: u32 },
}

/// What a generated point becomes in a spatial column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Point,
    LineString,
    Polygon,
    MultiPoint,
}

/// True for the binary string types (`binary`, `varbinary`, the blobs).
pub fn is_binary_type(type_name: &str) -> bool {
    let ty = type_name.to_ascii_lowercase();
    matches!(
        ty.split(['(', ' ']).next().unwrap_or_default(),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
    )
}

impl Codec {
    /// The codec of a column, from its type as the catalog spells it.
    pub fn of(col: &Column) -> Codec {
        let ty = col.type_name.to_ascii_lowercase();
        let base = ty.split(['(', ' ']).next().unwrap_or_default();
        let len =
            || ty.split_once('(').and_then(|(_, r)| r.split([')', ',']).next()).and_then(|n| n.trim().parse().ok());
        match base {
            "float" => Codec::Float,
            "binary" | "varbinary" => Codec::Binary { max: len() },
            "tinyblob" => Codec::Binary { max: Some(255) },
            "blob" => Codec::Binary { max: Some(65_535) },
            "mediumblob" => Codec::Binary { max: Some(16_777_215) },
            "longblob" => Codec::Binary { max: None },
            "bit" => Codec::Bits(len().unwrap_or(1)),
            "point" | "geometry" => Codec::Spatial { shape: Shape::Point, srid: srid_of(&ty) },
            "linestring" => Codec::Spatial { shape: Shape::LineString, srid: srid_of(&ty) },
            "polygon" => Codec::Spatial { shape: Shape::Polygon, srid: srid_of(&ty) },
            "multipoint" | "geometrycollection" | "geomcollection" => {
                Codec::Spatial { shape: Shape::MultiPoint, srid: srid_of(&ty) }
            }
            _ => Codec::Text,
        }
    }

    /// True when COPY text holds this column as `\\x` hex.
    pub fn is_binary(self) -> bool {
        matches!(self, Codec::Binary { .. } | Codec::Spatial { .. })
    }
}

/// `v` as a SQL literal that reads the way an insert into `col` would: dates, times,
/// decimals cast to the column's type (so checks compare values, not strings), BIT
/// values as numbers, everything else plain.
pub fn literal(v: &Value, col: &Column) -> String {
    let Value::Text(s) = v else { return plain_literal(v) };
    let lit = quote_literal(s);
    match (&col.kind, Codec::of(col)) {
        (_, Codec::Bits(_)) => bits_value(s).map_or(lit, |n| n.to_string()),
        (TypeKind::Date, _) => format!("CAST({lit} AS DATE)"),
        (TypeKind::Timestamp | TypeKind::TimestampTz, _) => format!("CAST({lit} AS DATETIME(6))"),
        (TypeKind::Time, _) => format!("CAST({lit} AS TIME(6))"),
        (TypeKind::Numeric { precision: Some(p), scale }, _) => {
            format!("CAST({lit} AS DECIMAL({}, {}))", (*p).min(65), scale.unwrap_or(0).min(30))
        }
        _ => lit,
    }
}

/// Introspection spells spatial types with their SRID: `point srid 4326`.
fn srid_of(ty: &str) -> u32 {
    ty.split_once(" srid ").and_then(|(_, n)| n.trim().parse().ok()).unwrap_or(0)
}

/// BIT(n) bytes (big-endian, as the server sends them) -> `n` binary digits.
pub fn bits_text(bytes: &[u8], n: u32) -> String {
    let value = bytes.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
    let width = usize::try_from(n.clamp(1, 64)).unwrap_or(64);
    let digits = format!("{value:b}");
    if digits.len() >= width { digits } else { format!("{}{digits}", "0".repeat(width - digits.len())) }
}

/// Binary digits (`0101`) -> the BIT value; other text is read as a decimal number
/// (a constant from a factories file).
pub fn bits_value(text: &str) -> Option<u64> {
    let t = text.trim();
    if !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b == b'0' || b == b'1') {
        u64::from_str_radix(t, 2).ok()
    } else if let Some(hex) = t.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()
    } else {
        t.parse().ok()
    }
}

/// A generated point `(x,y)` (or `POINT(x y)`) as the server's internal geometry bytes
/// for `shape` around it. Latitudes and longitudes stay in range for geographic SRIDs.
pub fn geometry_bytes(text: &str, shape: Shape, srid: u32) -> Option<Vec<u8>> {
    let inner = text.trim();
    let inner = inner.strip_prefix("POINT").or_else(|| inner.strip_prefix("point")).unwrap_or(inner).trim();
    let inner = inner.trim_start_matches('(').trim_end_matches(')');
    let mut nums = inner.split([',', ' ']).filter(|s| !s.is_empty()).map(|s| s.trim().parse::<f64>());
    let (Some(Ok(mut x)), Some(Ok(mut y))) = (nums.next(), nums.next()) else { return None };
    if srid != 0 {
        // Geographic systems (4326...) want latitude within ±90 and longitude ±180.
        x = x.clamp(-89.0, 89.0);
        y = y.clamp(-179.0, 179.0);
    }
    let mut out = srid.to_le_bytes().to_vec();
    let point = |out: &mut Vec<u8>, x: f64, y: f64| {
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&y.to_le_bytes());
    };
    let header = |out: &mut Vec<u8>, kind: u32| {
        out.push(1); // little-endian WKB
        out.extend_from_slice(&kind.to_le_bytes());
    };
    match shape {
        Shape::Point => {
            header(&mut out, 1);
            point(&mut out, x, y);
        }
        Shape::LineString => {
            header(&mut out, 2);
            out.extend_from_slice(&2u32.to_le_bytes());
            point(&mut out, x, y);
            point(&mut out, x + 0.5, y + 0.5);
        }
        Shape::Polygon => {
            header(&mut out, 3);
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&5u32.to_le_bytes());
            for (dx, dy) in [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5), (0.0, 0.0)] {
                point(&mut out, x + dx, y + dy);
            }
        }
        Shape::MultiPoint => {
            header(&mut out, 4);
            out.extend_from_slice(&1u32.to_le_bytes());
            header(&mut out, 1);
            point(&mut out, x, y);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(ty: &str) -> Column {
        Column {
            name: "c".into(),
            type_name: ty.into(),
            kind: TypeKind::Other { name: ty.into() },
            nullable: true,
            default: None,
            auto: None,
            generated: false,
            checks: vec![],
        }
    }

    #[test]
    fn codecs_from_types() {
        assert_eq!(Codec::of(&col("varbinary(10)")), Codec::Binary { max: Some(10) });
        assert_eq!(Codec::of(&col("bit(5)")), Codec::Bits(5));
        assert_eq!(Codec::of(&col("float unsigned")), Codec::Float);
        assert_eq!(Codec::of(&col("point srid 4326")), Codec::Spatial { shape: Shape::Point, srid: 4326 });
        assert_eq!(Codec::of(&col("int(10) unsigned")), Codec::Text);
        assert!(Codec::of(&col("longblob")).is_binary());
    }

    #[test]
    fn literals_read_like_inserts() {
        let mut c = col("date");
        c.kind = TypeKind::Date;
        assert_eq!(literal(&Value::Text("2024-01-02".into()), &c), "CAST('2024-01-02' AS DATE)");
        assert_eq!(literal(&Value::Text("0101".into()), &col("bit(4)")), "5");
        assert_eq!(literal(&Value::Text("it's".into()), &col("varchar(9)")), "'it''s'");
        assert_eq!(literal(&Value::Int(3), &col("int")), "3");
    }

    #[test]
    fn bits_round_trip() {
        assert_eq!(bits_text(&[0x15], 5), "10101");
        assert_eq!(bits_text(&[0, 0], 16), "0000000000000000");
        assert_eq!(bits_text(&[0xff; 8], 64), "1".repeat(64));
        assert_eq!(bits_value("10101"), Some(21));
        assert_eq!(bits_value(&"1".repeat(64)), Some(u64::MAX));
        assert_eq!(bits_value("7"), Some(7));
    }

    #[test]
    fn points_become_internal_geometry() {
        let b = geometry_bytes("(1.5,-2)", Shape::Point, 4326).unwrap();
        assert_eq!(&b[..4], &4326u32.to_le_bytes());
        assert_eq!(b.len(), 4 + 1 + 4 + 16);
        assert_eq!(f64::from_le_bytes(b[9..17].try_into().unwrap()), 1.5);
        assert!(geometry_bytes("POINT(1 2)", Shape::Polygon, 0).is_some());
        assert!(geometry_bytes("nonsense", Shape::Point, 0).is_none());
    }
}
