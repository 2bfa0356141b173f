//! Values: the generators users can name, the guess from a column's name and type, and
//! the encodings (PostgreSQL COPY text, SQLite binds).

use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use fake::Fake;
use fake::faker::{
    address::en as addr, company::en as company, internet::en as net, job::en as job, lorem::en as lorem,
};
use fake::faker::{name::en as name, phone_number::en as phone};
use fake::rand::RngExt;
use fake::rand::rngs::Xoshiro256PlusPlus;

use crate::db::schema::{CheckRule, TypeKind};
use crate::db::value::Value;
use crate::factory::places::{LANGUAGES, PLACES};

pub type Rng = Xoshiro256PlusPlus;

/// Named generators (usable in factories files and templates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Faker {
    FirstName,
    LastName,
    FullName,
    Username,
    Email,
    Phone,
    StreetAddress,
    City,
    Country,
    CountryCode,
    State,
    Zip,
    Company,
    JobTitle,
    Word,
    Words,
    Sentence,
    Paragraph,
    Title,
    Url,
    Ipv4,
    MacAddress,
    Uuid,
    HexColor,
    Currency,
    Latitude,
    Longitude,
    Password,
    Code,
    Slug,
    Bool,
    Int,
    Money,
    Date,
    Timestamp,
    BirthDate,
    Json,
    /// A region's short code (`WA`, `NSW`).
    StateCode,
    /// An IANA time zone (`Europe/London`).
    TimeZone,
    /// Mr., Ms., Dr. ...
    Honorific,
    /// A language's name (`English`).
    Language,
    /// A phone extension (digits).
    Extension,
    /// `Apt. 12`, `Suite 400`.
    SecondaryAddress,
}

pub const GENERATOR_NAMES: &[(&str, Faker)] = &[
    ("first_name", Faker::FirstName),
    ("last_name", Faker::LastName),
    ("name", Faker::FullName),
    ("full_name", Faker::FullName),
    ("username", Faker::Username),
    ("email", Faker::Email),
    ("phone", Faker::Phone),
    ("street_address", Faker::StreetAddress),
    ("address", Faker::StreetAddress),
    ("city", Faker::City),
    ("country", Faker::Country),
    ("country_code", Faker::CountryCode),
    ("state", Faker::State),
    ("zip", Faker::Zip),
    ("postcode", Faker::Zip),
    ("company", Faker::Company),
    ("job_title", Faker::JobTitle),
    ("word", Faker::Word),
    ("words", Faker::Words),
    ("sentence", Faker::Sentence),
    ("paragraph", Faker::Paragraph),
    ("title", Faker::Title),
    ("url", Faker::Url),
    ("ipv4", Faker::Ipv4),
    ("mac_address", Faker::MacAddress),
    ("uuid", Faker::Uuid),
    ("color", Faker::HexColor),
    ("currency", Faker::Currency),
    ("latitude", Faker::Latitude),
    ("longitude", Faker::Longitude),
    ("password", Faker::Password),
    ("code", Faker::Code),
    ("slug", Faker::Slug),
    ("bool", Faker::Bool),
    ("int", Faker::Int),
    ("money", Faker::Money),
    ("date", Faker::Date),
    ("timestamp", Faker::Timestamp),
    ("birth_date", Faker::BirthDate),
    ("json", Faker::Json),
    ("state_code", Faker::StateCode),
    ("time_zone", Faker::TimeZone),
    ("honorific", Faker::Honorific),
    ("language", Faker::Language),
    ("extension", Faker::Extension),
    ("secondary_address", Faker::SecondaryAddress),
];

pub fn faker_by_name(name: &str) -> Option<Faker> {
    GENERATOR_NAMES.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

pub fn faker_name(f: Faker) -> &'static str {
    GENERATOR_NAMES.iter().find(|(_, g)| *g == f).map_or("?", |(n, _)| n)
}

/// The generator a column's name suggests, if any.
pub fn guess_from_name(table: &str, column: &str, kind: &TypeKind) -> Option<Faker> {
    let c = column.to_ascii_lowercase();
    let t = table.to_ascii_lowercase();
    let texty = matches!(kind, TypeKind::Text { .. } | TypeKind::Char { .. } | TypeKind::Other { .. });
    let ends = |s: &str| c == s || c.ends_with(&format!("_{s}"));
    if !texty {
        return None;
    }
    let person_table = [
        "staff",
        "user",
        "employee",
        "customer",
        "person",
        "people",
        "member",
        "patient",
        "recipient",
        "actor",
        "author",
        "contact",
        "student",
        "client",
    ]
    .iter()
    .any(|p| t.contains(p));
    let org_table = [
        "office",
        "compan",
        "store",
        "shop",
        "supplier",
        "vendor",
        "organi",
        "team",
        "department",
        "branch",
        "clinic",
        "hospital",
        "school",
        "shipper",
    ]
    .iter()
    .any(|p| t.contains(p));
    // A lookup table's "description" names the thing (northwind's region_description
    // "Eastern", territory_description "Westboro"), it does not describe it.
    let named_by_description = |thing: &str| t.contains(thing) && c == format!("{thing}_description");
    Some(match c.as_str() {
        _ if c.contains("email") => Faker::Email,
        _ if named_by_description("region") => Faker::State,
        _ if t.contains("territor") && c == "territory_description" => Faker::City,
        "title_of_courtesy" | "courtesy_title" | "honorific" | "salutation" | "name_prefix" | "name_title" => {
            Faker::Honorific
        }
        // A title in a person's table, or a contact's, is a job title (northwind's
        // employees.title "Sales Representative", customers.contact_title).
        _ if ends("title") && (person_table || c.contains("contact") || c.contains("job")) => Faker::JobTitle,
        "ship_name" | "shipper_name" | "consignee" | "bill_to_name" => Faker::Company,
        _ if ends("time_zone") || ends("timezone") || c == "tz" => Faker::TimeZone,
        _ if ends("state_abbr") || ends("state_code") || ends("region_code") || ends("province_code") => {
            Faker::StateCode
        }
        _ if ends("iso2") || ends("iso_code") || ends("country_iso") || ends("alpha2") || ends("iso_3166") => {
            Faker::CountryCode
        }
        "address2" | "address_2" | "address_line2" | "address_line_2" | "line2" | "apartment" | "suite" => {
            Faker::SecondaryAddress
        }
        _ if (ends("extension") || c == "ext") && person_table || ends("phone_ext") => Faker::Extension,
        _ if ends("language") || (c == "name" && t.contains("language")) => Faker::Language,
        "first_name" | "firstname" | "given_name" | "forename" => Faker::FirstName,
        "last_name" | "lastname" | "surname" | "family_name" => Faker::LastName,
        "username" | "user_name" | "login" | "handle" | "nickname" => Faker::Username,
        "full_name" | "display_name" | "contact_name" | "person_name" => Faker::FullName,
        "name" if person_table => Faker::FullName,
        "name" if org_table => Faker::Company,
        "company" | "company_name" | "organization" | "organisation" | "employer" => Faker::Company,
        _ if c.contains("phone") || c.contains("mobile") || ends("fax") || ends("tel") => Faker::Phone,
        _ if c.contains("address") || c.contains("street") || c == "line1" => Faker::StreetAddress,
        _ if ends("city") || ends("town") => Faker::City,
        _ if c.contains("country_code") => Faker::CountryCode,
        _ if ends("country") || ends("nationality") => Faker::Country,
        _ if ends("state") || ends("province") || ends("region") || ends("district") || ends("county") => Faker::State,
        _ if c.contains("zip") || c.contains("postal") || c.contains("postcode") => Faker::Zip,
        _ if c.contains("url")
            || c.contains("website")
            || c.contains("homepage")
            || c.contains("avatar")
            || c.contains("image")
            || c.contains("photo") =>
        {
            Faker::Url
        }
        _ if c.contains("description")
            || c.contains("comment")
            || ends("bio")
            || ends("summary")
            || ends("body")
            || ends("content")
            || ends("message")
            || ends("notes")
            || ends("note")
            || ends("remarks") =>
        {
            Faker::Sentence
        }
        _ if c.contains("password") || ends("hash") || ends("token") || c.contains("secret") => Faker::Password,
        _ if c.contains("color") || c.contains("colour") => Faker::HexColor,
        _ if c == "ip" || c.contains("ip_address") => Faker::Ipv4,
        _ if c.contains("job") || c.contains("position") || c.contains("occupation") || c.contains("profession") => {
            Faker::JobTitle
        }
        _ if c.contains("currency") => Faker::Currency,
        _ if ends("code") || ends("sku") || c.contains("reference") => Faker::Code,
        _ if ends("slug") => Faker::Slug,
        _ if ends("title") || ends("headline") || ends("subject") => Faker::Title,
        "name" | "label" | "category" | "tag" | "genre" | "kind" | "type" => Faker::Word,
        _ => return None,
    })
}

/// Limits a generator must respect beyond the type.
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub max_len: Option<u32>,
    pub min_len: Option<u32>,
}

/// The bounds a column's type and simple checks put on its values, and the values an
/// `IN (...)` check allows, if it has one.
pub fn check_bounds(kind: &TypeKind, checks: &[CheckRule]) -> (Bounds, Option<Vec<String>>) {
    let mut bounds = Bounds::default();
    let mut one_of: Option<Vec<String>> = None;
    for rule in checks {
        match rule {
            CheckRule::Range { min, max } => {
                bounds.min = max_opt(bounds.min, *min);
                bounds.max = min_opt_f(bounds.max, *max);
            }
            CheckRule::In(values) => one_of = Some(values.clone()),
            CheckRule::MaxLen(n) => bounds.max_len = Some(bounds.max_len.map_or(*n, |m| m.min(*n))),
            CheckRule::MinLen(n) => bounds.min_len = Some(*n),
        }
    }
    if let TypeKind::Text { max_len: Some(n) } | TypeKind::Char { len: n } = kind {
        bounds.max_len = Some(bounds.max_len.map_or(*n, |m| m.min(*n)));
    }
    (bounds, one_of)
}

pub fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

pub fn min_opt_f(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

/// A value from generator `f` for a column of `kind` named `column`: JSON columns get
/// a JSON string (or a document from `json`), number columns a number within their
/// type and `bounds`, others the generator's text fitted to `bounds`.
pub fn faker_value(f: Faker, kind: &TypeKind, column: &str, bounds: &Bounds, rng: &mut Rng) -> Value {
    faker_value_from(f, kind, column, bounds, rng, |rng| fake_text(f, rng), |rng| fitted_text(f, bounds, rng))
}

/// [`faker_value`] with the generator's text drawn by `text` (whole) and `fitted`
/// (fitted to `bounds`): a row's persona supplies its own person or place there.
pub fn faker_value_from(
    f: Faker,
    kind: &TypeKind,
    column: &str,
    bounds: &Bounds,
    rng: &mut Rng,
    text: impl FnOnce(&mut Rng) -> String,
    fitted: impl FnOnce(&mut Rng) -> String,
) -> Value {
    match (kind, f) {
        (TypeKind::Json | TypeKind::Jsonb, Faker::Json) => Value::Text(fake_text(f, rng)),
        (TypeKind::Json | TypeKind::Jsonb, _) => Value::Text(serde_json::Value::String(text(rng)).to_string()),
        (
            TypeKind::SmallInt
            | TypeKind::Int
            | TypeKind::BigInt
            | TypeKind::Real
            | TypeKind::Double
            | TypeKind::Numeric { .. }
            | TypeKind::Money,
            _,
        ) => fitted_number(&text(rng), kind, column, bounds, rng),
        _ => text_to_value(fitted(rng), kind),
    }
}

const EPOCH_2020: i64 = 1_577_836_800;
const SPAN_6Y: i64 = 6 * 365 * 86_400;

fn ts(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

pub fn random_timestamp(rng: &mut Rng) -> DateTime<Utc> {
    ts(EPOCH_2020 + rng.random_range(0..SPAN_6Y))
}

pub fn format_ts(t: &DateTime<Utc>, with_tz: bool) -> String {
    if with_tz { t.format("%Y-%m-%d %H:%M:%S+00").to_string() } else { t.format("%Y-%m-%d %H:%M:%S").to_string() }
}

fn date_in(rng: &mut Rng, from_year: i32, to_year: i32) -> NaiveDate {
    let start = NaiveDate::from_ymd_opt(from_year, 1, 1).unwrap_or_default();
    let end = NaiveDate::from_ymd_opt(to_year, 1, 1).unwrap_or_default();
    let days = (end - start).num_days().max(1);
    start + Duration::days(rng.random_range(0..days))
}

/// A value from a named generator, as text (callers convert to the column's type).
pub fn fake_text(f: Faker, rng: &mut Rng) -> String {
    match f {
        Faker::FirstName => name::FirstName().fake_with_rng(rng),
        Faker::LastName => name::LastName().fake_with_rng(rng),
        Faker::FullName => {
            let first: String = name::FirstName().fake_with_rng(rng);
            let last: String = name::LastName().fake_with_rng(rng);
            format!("{first} {last}")
        }
        Faker::Username => net::Username().fake_with_rng(rng),
        Faker::Email => net::SafeEmail().fake_with_rng(rng),
        Faker::Phone => phone::PhoneNumber().fake_with_rng(rng),
        Faker::StreetAddress => {
            let number: String = addr::BuildingNumber().fake_with_rng(rng);
            let street: String = addr::StreetName().fake_with_rng(rng);
            format!("{number} {street}")
        }
        Faker::City => addr::CityName().fake_with_rng(rng),
        Faker::Country => addr::CountryName().fake_with_rng(rng),
        Faker::CountryCode => addr::CountryCode().fake_with_rng(rng),
        Faker::State => addr::StateName().fake_with_rng(rng),
        Faker::Zip => addr::ZipCode().fake_with_rng(rng),
        Faker::Company => company::CompanyName().fake_with_rng(rng),
        Faker::JobTitle => job::Title().fake_with_rng(rng),
        Faker::Word => capitalize(&lorem::Word().fake_with_rng::<String, _>(rng)),
        Faker::Words => lorem::Words(2..5).fake_with_rng::<Vec<String>, _>(rng).join(" "),
        Faker::Sentence => lorem::Sentence(4..12).fake_with_rng(rng),
        Faker::Paragraph => lorem::Paragraph(2..4).fake_with_rng(rng),
        Faker::Title => {
            let words: Vec<String> = lorem::Words(2..5).fake_with_rng(rng);
            words.iter().map(|w| capitalize(w)).collect::<Vec<_>>().join(" ")
        }
        Faker::Url => {
            let word: String = lorem::Word().fake_with_rng(rng);
            let id: u32 = rng.random_range(1..100_000);
            format!("https://{word}.example.com/{id}")
        }
        Faker::Ipv4 => {
            format!(
                "10.{}.{}.{}",
                rng.random_range(0..256u16),
                rng.random_range(0..256u16),
                rng.random_range(1..255u16)
            )
        }
        Faker::MacAddress => {
            let b: [u8; 6] = rng.random();
            format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0] & 0xfe, b[1], b[2], b[3], b[4], b[5])
        }
        Faker::Uuid => uuid::Uuid::from_bytes(uuid_v4(rng)).to_string(),
        Faker::HexColor => format!("#{:06x}", rng.random_range(0..0x0100_0000u32)),
        Faker::Currency => {
            const CODES: [&str; 8] = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK"];
            CODES[rng.random_range(0..CODES.len())].to_owned()
        }
        Faker::Latitude => format!("{:.6}", rng.random_range(-90.0..90.0f64)),
        Faker::Longitude => format!("{:.6}", rng.random_range(-180.0..180.0f64)),
        Faker::Password => {
            let mut s = String::with_capacity(40);
            for _ in 0..5 {
                let _ = write!(s, "{:08x}", rng.random::<u32>());
            }
            s
        }
        Faker::Code => {
            const ALPHA: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
            (0..8).map(|_| ALPHA[rng.random_range(0..ALPHA.len())] as char).collect()
        }
        Faker::Slug => lorem::Words(2..4).fake_with_rng::<Vec<String>, _>(rng).join("-").to_lowercase(),
        Faker::Bool => (if rng.random_bool(0.8) { "true" } else { "false" }).to_owned(),
        Faker::Int => rng.random_range(1..1000i64).to_string(),
        Faker::Money => format!("{}.{:02}", rng.random_range(1..1000u32), rng.random_range(0..100u32)),
        Faker::Date => date_in(rng, 2020, 2026).to_string(),
        Faker::Timestamp => format_ts(&random_timestamp(rng), true),
        Faker::BirthDate => date_in(rng, 1930, 2008).to_string(),
        Faker::Json => random_json(rng),
        Faker::StateCode => PLACES[rng.random_range(0..PLACES.len())].region_code.to_owned(),
        Faker::TimeZone => PLACES[rng.random_range(0..PLACES.len())].time_zone.to_owned(),
        Faker::Honorific => name::Title().fake_with_rng(rng),
        Faker::Language => LANGUAGES[rng.random_range(0..LANGUAGES.len())].to_owned(),
        Faker::Extension => rng.random_range(100..10_000u32).to_string(),
        Faker::SecondaryAddress => addr::SecondaryAddress().fake_with_rng(rng),
    }
}

pub fn uuid_v4(rng: &mut Rng) -> [u8; 16] {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub fn random_json(rng: &mut Rng) -> String {
    let note: String = lorem::Sentence(3..8).fake_with_rng(rng);
    let tags: Vec<String> = lorem::Words(1..4).fake_with_rng(rng);
    let priority = rng.random_range(1..=5u8);
    let flagged = rng.random_bool(0.1);
    // Keys in the order these documents have always had (the same seed, the same bytes).
    serde_json::json!({ "flagged": flagged, "note": note, "priority": priority, "tags": tags }).to_string()
}

/// A value from `f` that fits `bounds`' length. A generator whose usual output cannot
/// fit switches to its short form (a country code in a 2-character country column,
/// initials for a 3-character name, digits for a short phone); otherwise a few draws
/// look for a value that fits whole, and the last one is cut at a character boundary.
pub fn fitted_text(f: Faker, bounds: &Bounds, rng: &mut Rng) -> String {
    let Some(max) = bounds.max_len else { return clamp_len(fake_text(f, rng), bounds) };
    if let Some(short) = short_form(f, max, rng) {
        return clamp_len(short, bounds);
    }
    let mut text = fake_text(f, rng);
    for _ in 0..3 {
        if text.chars().count() <= max as usize {
            break;
        }
        text = fake_text(f, rng);
    }
    clamp_len(text, bounds)
}

/// The short form of `f` when its usual values are longer than `max` characters.
fn short_form(f: Faker, max: u32, rng: &mut Rng) -> Option<String> {
    Some(match f {
        Faker::Country if max < 4 => fake_text(Faker::CountryCode, rng),
        Faker::State if max < 4 => addr::StateAbbr().fake_with_rng(rng),
        Faker::FullName if max < 5 => {
            let first: String = name::FirstName().fake_with_rng(rng);
            let last: String = name::LastName().fake_with_rng(rng);
            first.chars().take(1).chain(last.chars().take(1)).collect()
        }
        Faker::Phone | Faker::Zip if max < 10 => fake_text(f, rng).chars().filter(char::is_ascii_digit).collect(),
        Faker::HexColor if max < 7 => format!("{:06x}", rng.random_range(0..0x0100_0000u32)),
        _ => return None,
    })
}

/// Whether a named generator's values can go into a column of `kind` (text columns
/// take any of them; typed columns only generators of their kind).
pub fn faker_suits(f: Faker, kind: &TypeKind) -> bool {
    use Faker as F;
    match kind {
        TypeKind::Text { .. }
        | TypeKind::Char { .. }
        | TypeKind::Other { .. }
        | TypeKind::Json
        | TypeKind::Jsonb
        | TypeKind::Bytea
        | TypeKind::TsVector => true,
        TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt => f == F::Int,
        TypeKind::Real | TypeKind::Double | TypeKind::Numeric { .. } | TypeKind::Money => {
            matches!(f, F::Int | F::Money | F::Latitude | F::Longitude)
        }
        TypeKind::Bool => f == F::Bool,
        TypeKind::Date | TypeKind::Timestamp | TypeKind::TimestampTz => {
            matches!(f, F::Date | F::BirthDate | F::Timestamp)
        }
        TypeKind::Time | TypeKind::TimeTz => f == F::Timestamp,
        TypeKind::Uuid => f == F::Uuid,
        TypeKind::Inet | TypeKind::Cidr => f == F::Ipv4,
        TypeKind::MacAddr => f == F::MacAddress,
        TypeKind::Xml
        | TypeKind::Bit { .. }
        | TypeKind::Point
        | TypeKind::Interval
        | TypeKind::Range { .. }
        | TypeKind::Enum { .. }
        | TypeKind::Array { .. } => false,
    }
}

/// A number from a named generator, kept inside the column's type (range, precision,
/// scale) and checks; out of them, a random value of the column's own range instead.
pub fn fitted_number(text: &str, kind: &TypeKind, column: &str, bounds: &Bounds, rng: &mut Rng) -> Value {
    let Ok(v) = text.parse::<f64>() else { return typed_value(kind, column, bounds, rng) };
    let (lo, hi, scale) = match kind {
        TypeKind::SmallInt => (f64::from(i16::MIN), f64::from(i16::MAX), Some(0)),
        TypeKind::Int => (f64::from(i32::MIN), f64::from(i32::MAX), Some(0)),
        #[allow(clippy::cast_precision_loss)]
        TypeKind::BigInt => (i64::MIN as f64, i64::MAX as f64, Some(0)),
        TypeKind::Numeric { precision, scale } => {
            let (limit, scale) = numeric_limits(*precision, *scale);
            (-limit, limit, Some(scale))
        }
        TypeKind::Money => (0.0, 1e12, Some(2)),
        _ => (f64::MIN, f64::MAX, None),
    };
    let lo = bounds.min.map_or(lo, |m| m.max(lo));
    let hi = bounds.max.map_or(hi, |m| m.min(hi));
    let integral = matches!(kind, TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt);
    if !(lo..=hi).contains(&v) || integral && v.fract() != 0.0 {
        return typed_value(kind, column, bounds, rng);
    }
    match (integral, scale) {
        #[allow(clippy::cast_possible_truncation)]
        (true, _) => Value::Int(v as i64),
        (false, Some(scale)) => Value::Text(format_numeric(v, scale, lo, hi)),
        (false, None) => Value::Float(v),
    }
}

/// Truncates to at most `max` characters (PostgreSQL counts characters, not bytes).
pub fn clamp_len(mut s: String, bounds: &Bounds) -> String {
    if let Some(max) = bounds.max_len {
        let max = max as usize;
        if let Some((idx, _)) = s.char_indices().nth(max) {
            s.truncate(idx);
            // Keep check constraints like `name <> ''` and trailing-space-free values.
            while s.ends_with(' ') {
                s.pop();
            }
        }
    }
    if let Some(min) = bounds.min_len {
        while s.chars().count() < min as usize {
            s.push('x');
        }
    }
    s
}

fn int_range(kind: &TypeKind, bounds: &Bounds, default: (i64, i64)) -> (i64, i64) {
    let (tmin, tmax) = match kind {
        TypeKind::SmallInt => (i64::from(i16::MIN), i64::from(i16::MAX)),
        TypeKind::Int => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    #[allow(clippy::cast_possible_truncation)]
    let lo = bounds.min.map_or(default.0, |m| m.ceil() as i64).clamp(tmin, tmax);
    #[allow(clippy::cast_possible_truncation)]
    let hi = bounds.max.map_or(default.1.max(lo), |m| m.floor() as i64).clamp(tmin, tmax);
    if bounds.min.is_some() && bounds.max.is_none() {
        (lo, lo.saturating_add(default.1 - default.0).min(tmax))
    } else {
        (lo, hi.max(lo))
    }
}

/// The largest absolute value numeric(p, s) holds, and its scale.
fn numeric_limits(precision: Option<u32>, scale: Option<u32>) -> (f64, u32) {
    let scale = scale.unwrap_or(2).min(6);
    match precision {
        Some(p) => {
            let digits = p.saturating_sub(scale).min(15);
            #[allow(clippy::cast_possible_wrap)]
            let max = 10f64.powi(digits as i32) - 10f64.powi(-(scale as i32));
            (max.max(0.0), scale)
        }
        None => (1_000_000.0, scale),
    }
}

/// A random value for a column from its type (and name-derived hints in `hint`).
pub fn typed_value(kind: &TypeKind, column: &str, bounds: &Bounds, rng: &mut Rng) -> Value {
    let c = column.to_ascii_lowercase();
    match kind {
        TypeKind::Bool => {
            Value::Bool(rng.random_bool(if c.starts_with("is_") || c.contains("active") || c.contains("enabled") {
                0.8
            } else {
                0.5
            }))
        }
        TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt => {
            let default = name_int_range(&c);
            let (lo, hi) = int_range(kind, bounds, default);
            Value::Int(rng.random_range(lo..=hi))
        }
        TypeKind::Real | TypeKind::Double => {
            let lo = bounds.min.unwrap_or(0.0);
            let hi = bounds.max.unwrap_or(lo + 1000.0).max(lo);
            let v = rng.random_range(lo..=hi);
            Value::Float((v * 100.0).round() / 100.0)
        }
        TypeKind::Numeric { precision, scale } => {
            let (limit, scale) = numeric_limits(*precision, *scale);
            let lo = bounds.min.unwrap_or(if is_money(&c) { 0.5 } else { 0.0 }).max(-limit);
            let default_hi = if is_money(&c) { 999.99 } else { 1000.0 };
            let hi = bounds.max.unwrap_or(default_hi).min(limit).max(lo);
            let v = rng.random_range(lo..=hi);
            Value::Text(format_numeric(v, scale, lo, hi))
        }
        TypeKind::Money => {
            Value::Text(format!("{}.{:02}", rng.random_range(0..10_000u32), rng.random_range(0..100u32)))
        }
        TypeKind::Text { max_len } => {
            let b = Bounds { max_len: min_opt(*max_len, bounds.max_len), ..bounds.clone() };
            Value::Text(fitted_text(guess_from_name("", column, kind).unwrap_or(Faker::Words), &b, rng))
        }
        TypeKind::Char { len } => {
            let b = Bounds { max_len: Some(min_opt(Some(*len), bounds.max_len).unwrap_or(*len)), ..bounds.clone() };
            Value::Text(fitted_text(if *len <= 3 { Faker::Code } else { Faker::Word }, &b, rng))
        }
        TypeKind::Uuid => Value::Text(uuid::Uuid::from_bytes(uuid_v4(rng)).to_string()),
        TypeKind::Json | TypeKind::Jsonb => Value::Text(random_json(rng)),
        TypeKind::Date => {
            let d = if c.contains("birth") || c == "dob" { date_in(rng, 1930, 2008) } else { date_in(rng, 2020, 2026) };
            Value::Text(d.to_string())
        }
        TypeKind::Timestamp => Value::Text(format_ts(&random_timestamp(rng), false)),
        TypeKind::TimestampTz => Value::Text(format_ts(&random_timestamp(rng), true)),
        TypeKind::Time => Value::Text(format!(
            "{:02}:{:02}:{:02}",
            rng.random_range(0..24u8),
            rng.random_range(0..60u8),
            rng.random_range(0..60u8)
        )),
        TypeKind::TimeTz => Value::Text(format!(
            "{:02}:{:02}:{:02}+00",
            rng.random_range(0..24u8),
            rng.random_range(0..60u8),
            rng.random_range(0..60u8)
        )),
        TypeKind::Interval => Value::Text(format!(
            "{} days {:02}:{:02}:00",
            rng.random_range(0..30u8),
            rng.random_range(0..24u8),
            rng.random_range(0..60u8)
        )),
        TypeKind::Bytea => {
            let len = rng.random_range(8..64usize);
            Value::Bytes((0..len).map(|_| rng.random()).collect())
        }
        TypeKind::Inet => Value::Text(fake_text(Faker::Ipv4, rng)),
        TypeKind::Cidr => {
            Value::Text(format!("10.{}.{}.0/24", rng.random_range(0..256u16), rng.random_range(0..256u16)))
        }
        TypeKind::MacAddr => Value::Text(fake_text(Faker::MacAddress, rng)),
        TypeKind::TsVector => {
            let words: Vec<String> = lorem::Words(2..6).fake_with_rng(rng);
            Value::Text(words.iter().map(|w| w.to_lowercase()).collect::<Vec<_>>().join(" "))
        }
        TypeKind::Xml => Value::Text(format!("<note>{}</note>", lorem::Word().fake_with_rng::<String, _>(rng))),
        TypeKind::Bit { len, varying } => {
            let n = if *varying { rng.random_range(1..=len.unwrap_or(8).max(1)) } else { len.unwrap_or(1).max(1) };
            Value::Text((0..n).map(|_| if rng.random_bool(0.5) { '1' } else { '0' }).collect())
        }
        TypeKind::Point => Value::Text(format!(
            "({:.3},{:.3})",
            rng.random_range(-100.0..100.0f64),
            rng.random_range(-100.0..100.0f64)
        )),
        TypeKind::Enum { labels } => {
            if labels.is_empty() {
                Value::Null
            } else {
                Value::Text(labels[rng.random_range(0..labels.len())].clone())
            }
        }
        TypeKind::Range { element } => range_value(element, rng),
        TypeKind::Array { element } => {
            let n = rng.random_range(0..4usize);
            let mut out = String::from("{");
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                let element_value = match element.as_ref() {
                    TypeKind::Text { max_len } => {
                        Value::Text(fitted_text(Faker::Word, &Bounds { max_len: *max_len, ..Bounds::default() }, rng))
                    }
                    other => typed_value(other, column, &Bounds::default(), rng),
                };
                push_array_element(&mut out, &element_value);
            }
            out.push('}');
            Value::Text(out)
        }
        TypeKind::Other { .. } => Value::Null,
    }
}

fn min_opt(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn is_money(c: &str) -> bool {
    ["price", "amount", "cost", "total", "salary", "balance", "fee", "rate", "payment", "charge"]
        .iter()
        .any(|m| c.contains(m))
}

fn name_int_range(c: &str) -> (i64, i64) {
    if c.contains("age") && !c.contains("page") {
        (18, 90)
    } else if c.contains("year") {
        (1950, 2025)
    } else if c.contains("rating") || c.contains("score") || c.contains("level") || c.contains("priority") {
        (1, 5)
    } else if c.contains("quantity") || c.contains("qty") || c.contains("stock") || c.contains("count") {
        (0, 100)
    } else if c.contains("duration") || c.contains("length") {
        (1, 200)
    } else if c == "active" || c.starts_with("is_") {
        (0, 1)
    } else {
        (1, 1000)
    }
}

fn format_numeric(v: f64, scale: u32, lo: f64, hi: f64) -> String {
    let s = format!("{v:.prec$}", prec = scale as usize);
    // Rounding may step outside a check's bounds: clamp on the decimal grid.
    match s.parse::<f64>() {
        Ok(r) if r < lo => format!(
            "{:.prec$}",
            (lo * 10f64.powi(scale.cast_signed())).ceil() / 10f64.powi(scale.cast_signed()),
            prec = scale as usize
        ),
        Ok(r) if r > hi => format!(
            "{:.prec$}",
            (hi * 10f64.powi(scale.cast_signed())).floor() / 10f64.powi(scale.cast_signed()),
            prec = scale as usize
        ),
        _ => s,
    }
}

fn range_value(element: &TypeKind, rng: &mut Rng) -> Value {
    let text = match element {
        TypeKind::Int | TypeKind::BigInt | TypeKind::SmallInt => {
            let a = rng.random_range(0..1000i64);
            format!("[{a},{})", a + rng.random_range(1..100i64))
        }
        TypeKind::Numeric { .. } => {
            let a = rng.random_range(0..1000i64);
            format!("[{a}.5,{}.5)", a + rng.random_range(1..100i64))
        }
        TypeKind::Date => {
            let a = date_in(rng, 2020, 2026);
            format!("[{a},{})", a + Duration::days(rng.random_range(1..60)))
        }
        TypeKind::Timestamp | TypeKind::TimestampTz => {
            let a = random_timestamp(rng);
            let b = a + Duration::hours(rng.random_range(1..240));
            let tz = matches!(element, TypeKind::TimestampTz);
            format!("[\"{}\",\"{}\")", format_ts(&a, tz), format_ts(&b, tz))
        }
        _ => return Value::Null,
    };
    Value::Text(text)
}

/// Appends one array element in PostgreSQL array-literal syntax.
pub fn push_array_element(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("NULL"),
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f}");
        }
        Value::Text(s) => {
            out.push('"');
            for ch in s.chars() {
                if ch == '"' || ch == '\\' {
                    out.push('\\');
                }
                out.push(ch);
            }
            out.push('"');
        }
        Value::Bytes(b) => {
            out.push_str("\"\\\\x");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
            out.push('"');
        }
    }
}

/// Converts a text value (from a template, list or constant) to what the column holds.
pub fn text_to_value(text: String, kind: &TypeKind) -> Value {
    match kind {
        TypeKind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" => Value::Bool(true),
            "false" | "f" | "0" | "no" => Value::Bool(false),
            _ => Value::Text(text),
        },
        TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt => text.parse().map_or(Value::Text(text), Value::Int),
        TypeKind::Real | TypeKind::Double => text.parse().map_or(Value::Text(text), Value::Float),
        TypeKind::Bytea => Value::Bytes(text.into_bytes()),
        _ => Value::Text(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fake::rand::SeedableRng;

    #[test]
    fn array_literals_quote_elements() {
        let mut s = String::from("{");
        push_array_element(&mut s, &Value::Text("say \"hi\"".into()));
        s.push(',');
        push_array_element(&mut s, &Value::Null);
        s.push('}');
        assert_eq!(s, "{\"say \\\"hi\\\"\",NULL}");
    }

    #[test]
    fn numeric_respects_precision_and_checks() {
        let mut rng = Rng::seed_from_u64(1);
        let bounds = Bounds { min: Some(0.01), max: None, ..Bounds::default() };
        for _ in 0..2000 {
            let Value::Text(v) = typed_value(
                &TypeKind::Numeric { precision: Some(4), scale: Some(2) },
                "rental_rate",
                &bounds,
                &mut rng,
            ) else {
                panic!()
            };
            let n: f64 = v.parse().unwrap();
            assert!((0.01..=99.99).contains(&n), "{v}");
            assert_eq!(v.split('.').nth(1).map(str::len), Some(2), "{v}");
        }
    }

    #[test]
    fn ints_respect_ranges_and_types() {
        let mut rng = Rng::seed_from_u64(2);
        let bounds = Bounds { min: Some(1.0), max: Some(5.0), ..Bounds::default() };
        for _ in 0..500 {
            let Value::Int(v) = typed_value(&TypeKind::SmallInt, "care_level", &bounds, &mut rng) else { panic!() };
            assert!((1..=5).contains(&v));
        }
        let bounds = Bounds { min: Some(1901.0), max: Some(2155.0), ..Bounds::default() };
        let Value::Int(v) = typed_value(&TypeKind::Int, "release_year", &bounds, &mut rng) else { panic!() };
        assert!((1901..=2155).contains(&v));
    }

    #[test]
    fn every_generator_fits_every_short_length() {
        let mut rng = Rng::seed_from_u64(3);
        for &(name, f) in GENERATOR_NAMES {
            for max in 1..=8u32 {
                let bounds = Bounds { max_len: Some(max), ..Bounds::default() };
                for _ in 0..50 {
                    let v = fitted_text(f, &bounds, &mut rng);
                    assert!(v.chars().count() <= max as usize, "{name} at {max}: {v:?}");
                    assert!(!v.ends_with(' '), "{name} at {max}: {v:?}");
                }
            }
        }
    }

    #[test]
    fn short_columns_get_short_forms() {
        let mut rng = Rng::seed_from_u64(4);
        let two = Bounds { max_len: Some(2), ..Bounds::default() };
        for _ in 0..200 {
            let country = fitted_text(Faker::Country, &two, &mut rng);
            assert!(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()), "{country:?}");
            let state = fitted_text(Faker::State, &two, &mut rng);
            assert!(state.len() == 2 && state.bytes().all(|b| b.is_ascii_uppercase()), "{state:?}");
            let initials = fitted_text(Faker::FullName, &two, &mut rng);
            assert_eq!(initials.chars().count(), 2, "{initials:?}");
            let phone = fitted_text(Faker::Phone, &Bounds { max_len: Some(6), ..Bounds::default() }, &mut rng);
            assert!(phone.len() == 6 && phone.bytes().all(|b| b.is_ascii_digit()), "{phone:?}");
        }
        // Longer columns draw a whole value that fits when one comes up.
        let six = Bounds { max_len: Some(6), ..Bounds::default() };
        let whole = (0..200).filter(|_| {
            let v = fitted_text(Faker::FirstName, &six, &mut rng);
            v.chars().count() < 6
        });
        assert!(whole.count() > 100);
    }

    #[test]
    fn generators_suit_only_their_kinds() {
        assert!(faker_suits(Faker::Email, &TypeKind::Text { max_len: Some(3) }));
        assert!(faker_suits(Faker::Email, &TypeKind::Char { len: 1 }));
        assert!(!faker_suits(Faker::Email, &TypeKind::Int));
        assert!(faker_suits(Faker::Int, &TypeKind::SmallInt));
        assert!(!faker_suits(Faker::Money, &TypeKind::Int));
        assert!(faker_suits(Faker::Money, &TypeKind::Numeric { precision: Some(6), scale: Some(2) }));
        assert!(faker_suits(Faker::BirthDate, &TypeKind::Date));
        assert!(!faker_suits(Faker::Uuid, &TypeKind::Date));
        assert!(!faker_suits(Faker::Word, &TypeKind::Enum { labels: vec!["a".into()] }));
    }

    #[test]
    fn generated_numbers_keep_to_precision_and_checks() {
        let mut rng = Rng::seed_from_u64(5);
        let kind = TypeKind::Numeric { precision: Some(2), scale: Some(0) };
        for _ in 0..500 {
            let Value::Text(v) =
                fitted_number(&fake_text(Faker::Int, &mut rng), &kind, "n", &Bounds::default(), &mut rng)
            else {
                panic!()
            };
            assert!(v.parse::<f64>().unwrap().abs() <= 99.0, "{v}");
        }
        let bounds = Bounds { min: Some(1.0), max: Some(5.0), ..Bounds::default() };
        for _ in 0..500 {
            let Value::Int(v) =
                fitted_number(&fake_text(Faker::Int, &mut rng), &TypeKind::SmallInt, "x", &bounds, &mut rng)
            else {
                panic!()
            };
            assert!((1..=5).contains(&v), "{v}");
        }
        assert_eq!(fitted_number("-12.5", &TypeKind::Double, "lat", &Bounds::default(), &mut rng), Value::Float(-12.5));
    }

    #[test]
    fn lengths_are_characters() {
        let s = clamp_len("héllo wörld".into(), &Bounds { max_len: Some(7), ..Bounds::default() });
        assert_eq!(s, "héllo w");
    }

    #[test]
    fn name_guesses() {
        let text = TypeKind::Text { max_len: None };
        assert_eq!(guess_from_name("staffs", "email", &text), Some(Faker::Email));
        assert_eq!(guess_from_name("staffs", "name", &text), Some(Faker::FullName));
        assert_eq!(guess_from_name("offices", "name", &text), Some(Faker::Company));
        assert_eq!(guess_from_name("x", "postal_code", &text), Some(Faker::Zip));
        assert_eq!(guess_from_name("x", "email", &TypeKind::Int), None);
    }

    /// r19.15: the names real schemas use (northwind, pagila, sakila and common ones)
    /// get values of their kind, and docs/bulk.md lists every generator a file may name.
    #[test]
    fn real_schema_names_get_their_kind() {
        let text = TypeKind::Text { max_len: None };
        for (table, column, want) in [
            ("employees", "title", Faker::JobTitle),
            ("customers", "contact_title", Faker::JobTitle),
            ("employees", "title_of_courtesy", Faker::Honorific),
            ("employees", "extension", Faker::Extension),
            ("orders", "ship_name", Faker::Company),
            ("region", "region_description", Faker::State),
            ("territories", "territory_description", Faker::City),
            ("language", "name", Faker::Language),
            ("users", "time_zone", Faker::TimeZone),
            ("users", "position", Faker::JobTitle),
            ("users", "job", Faker::JobTitle),
            ("accounts", "company", Faker::Company),
            ("prices", "currency", Faker::Currency),
            ("countries", "iso2", Faker::CountryCode),
            ("address", "address2", Faker::SecondaryAddress),
            ("users", "state_code", Faker::StateCode),
            ("sites", "url", Faker::Url),
            ("posts", "slug", Faker::Slug),
            ("posts", "title", Faker::Title),
        ] {
            assert_eq!(guess_from_name(table, column, &text), Some(want), "{table}.{column}");
        }
        let page = include_str!("../../docs/bulk.md");
        for (name, _) in GENERATOR_NAMES {
            assert!(page.contains(&format!("`{name}`")), "docs/bulk.md does not list the generator {name}");
        }
    }
}
