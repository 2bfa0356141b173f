//! Who and where a row describes, so the columns of one row agree: the email is made
//! from the row's first and last name, the username too; the city, region, postcode,
//! country, country code, phone prefix, currency, time zone and coordinates come from
//! one real place. Columns named with an address role (`ship_city`, `billing_country`)
//! describe a place of their own, shared by the columns with that role.
//!
//! A persona is drawn from its own generator, seeded from (seed, table, row number)
//! like everything else in a row, and only when a column asks for it: the same seed
//! gives the same bytes, and a row's other columns draw what they always drew.

use std::cell::{OnceCell, RefCell};

use fake::Fake;
use fake::faker::name::en as name;
use fake::rand::{RngExt, SeedableRng};

use crate::factory::hash::derive;
use crate::factory::values::{Faker, Rng};

/// A real place: what its columns say when they describe it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub city: &'static str,
    pub region: &'static str,
    /// The region's short code (`WA`, `NSW`), or the region's initials where none is usual.
    pub region_code: &'static str,
    /// Postcodes of the city: `#` a digit, `@` a capital letter, anything else itself.
    pub postcode: &'static str,
    pub country: &'static str,
    pub iso2: &'static str,
    pub iso3: &'static str,
    pub currency: &'static str,
    /// International dialling code, without `+`.
    pub dial: &'static str,
    pub time_zone: &'static str,
    pub lat: f64,
    pub lon: f64,
}

macro_rules! place {
    ($city:expr, $region:expr, $code:expr, $post:expr, $country:expr, $iso2:expr, $iso3:expr, $cur:expr, $dial:expr, $tz:expr, $lat:expr, $lon:expr) => {
        Place {
            city: $city,
            region: $region,
            region_code: $code,
            postcode: $post,
            country: $country,
            iso2: $iso2,
            iso3: $iso3,
            currency: $cur,
            dial: $dial,
            time_zone: $tz,
            lat: $lat,
            lon: $lon,
        }
    };
}

/// The places rows are drawn from (real cities, their postcode shapes and the codes
/// that go with them).
#[rustfmt::skip]
pub const PLACES: &[Place] = &[
    place!("New York", "New York", "NY", "100##", "United States", "US", "USA", "USD", "1", "America/New_York", 40.71, -74.01),
    place!("Seattle", "Washington", "WA", "981##", "United States", "US", "USA", "USD", "1", "America/Los_Angeles", 47.61, -122.33),
    place!("Austin", "Texas", "TX", "787##", "United States", "US", "USA", "USD", "1", "America/Chicago", 30.27, -97.74),
    place!("Chicago", "Illinois", "IL", "606##", "United States", "US", "USA", "USD", "1", "America/Chicago", 41.88, -87.63),
    place!("Denver", "Colorado", "CO", "802##", "United States", "US", "USA", "USD", "1", "America/Denver", 39.74, -104.99),
    place!("Boston", "Massachusetts", "MA", "021##", "United States", "US", "USA", "USD", "1", "America/New_York", 42.36, -71.06),
    place!("Toronto", "Ontario", "ON", "M#@ #@#", "Canada", "CA", "CAN", "CAD", "1", "America/Toronto", 43.65, -79.38),
    place!("Vancouver", "British Columbia", "BC", "V#@ #@#", "Canada", "CA", "CAN", "CAD", "1", "America/Vancouver", 49.28, -123.12),
    place!("Montreal", "Quebec", "QC", "H#@ #@#", "Canada", "CA", "CAN", "CAD", "1", "America/Toronto", 45.50, -73.57),
    place!("London", "Greater London", "LND", "SW# #@@", "United Kingdom", "GB", "GBR", "GBP", "44", "Europe/London", 51.51, -0.13),
    place!("Leeds", "West Yorkshire", "WYK", "LS# #@@", "United Kingdom", "GB", "GBR", "GBP", "44", "Europe/London", 53.80, -1.55),
    place!("Manchester", "Greater Manchester", "MAN", "M# #@@", "United Kingdom", "GB", "GBR", "GBP", "44", "Europe/London", 53.48, -2.24),
    place!("Edinburgh", "Scotland", "EDH", "EH# #@@", "United Kingdom", "GB", "GBR", "GBP", "44", "Europe/London", 55.95, -3.19),
    place!("Dublin", "Leinster", "L", "D0# @#@#", "Ireland", "IE", "IRL", "EUR", "353", "Europe/Dublin", 53.35, -6.26),
    place!("Berlin", "Berlin", "BE", "10###", "Germany", "DE", "DEU", "EUR", "49", "Europe/Berlin", 52.52, 13.40),
    place!("Munich", "Bavaria", "BY", "80###", "Germany", "DE", "DEU", "EUR", "49", "Europe/Berlin", 48.14, 11.58),
    place!("Hamburg", "Hamburg", "HH", "20###", "Germany", "DE", "DEU", "EUR", "49", "Europe/Berlin", 53.55, 9.99),
    place!("Paris", "Île-de-France", "IDF", "750##", "France", "FR", "FRA", "EUR", "33", "Europe/Paris", 48.86, 2.35),
    place!("Lyon", "Auvergne-Rhône-Alpes", "ARA", "690##", "France", "FR", "FRA", "EUR", "33", "Europe/Paris", 45.76, 4.84),
    place!("Madrid", "Community of Madrid", "MD", "280##", "Spain", "ES", "ESP", "EUR", "34", "Europe/Madrid", 40.42, -3.70),
    place!("Barcelona", "Catalonia", "CT", "080##", "Spain", "ES", "ESP", "EUR", "34", "Europe/Madrid", 41.39, 2.17),
    place!("Rome", "Lazio", "LZ", "001##", "Italy", "IT", "ITA", "EUR", "39", "Europe/Rome", 41.90, 12.50),
    place!("Milan", "Lombardy", "LM", "201##", "Italy", "IT", "ITA", "EUR", "39", "Europe/Rome", 45.46, 9.19),
    place!("Amsterdam", "North Holland", "NH", "10## @@", "Netherlands", "NL", "NLD", "EUR", "31", "Europe/Amsterdam", 52.37, 4.90),
    place!("Stockholm", "Stockholm County", "AB", "11# ##", "Sweden", "SE", "SWE", "SEK", "46", "Europe/Stockholm", 59.33, 18.07),
    place!("Oslo", "Oslo", "03", "0###", "Norway", "NO", "NOR", "NOK", "47", "Europe/Oslo", 59.91, 10.75),
    place!("Copenhagen", "Capital Region", "84", "1###", "Denmark", "DK", "DNK", "DKK", "45", "Europe/Copenhagen", 55.68, 12.57),
    place!("Helsinki", "Uusimaa", "18", "00###", "Finland", "FI", "FIN", "EUR", "358", "Europe/Helsinki", 60.17, 24.94),
    place!("Warsaw", "Masovia", "MZ", "0#-###", "Poland", "PL", "POL", "PLN", "48", "Europe/Warsaw", 52.23, 21.01),
    place!("Lisbon", "Lisbon", "11", "1###-###", "Portugal", "PT", "PRT", "EUR", "351", "Europe/Lisbon", 38.72, -9.14),
    place!("Zurich", "Zurich", "ZH", "80##", "Switzerland", "CH", "CHE", "CHF", "41", "Europe/Zurich", 47.38, 8.54),
    place!("Tokyo", "Tokyo", "13", "1##-####", "Japan", "JP", "JPN", "JPY", "81", "Asia/Tokyo", 35.68, 139.69),
    place!("Osaka", "Osaka", "27", "5##-####", "Japan", "JP", "JPN", "JPY", "81", "Asia/Tokyo", 34.69, 135.50),
    place!("Sydney", "New South Wales", "NSW", "2###", "Australia", "AU", "AUS", "AUD", "61", "Australia/Sydney", -33.87, 151.21),
    place!("Melbourne", "Victoria", "VIC", "3###", "Australia", "AU", "AUS", "AUD", "61", "Australia/Melbourne", -37.81, 144.96),
    place!("Auckland", "Auckland", "AUK", "1###", "New Zealand", "NZ", "NZL", "NZD", "64", "Pacific/Auckland", -36.85, 174.76),
    place!("São Paulo", "São Paulo", "SP", "0####-###", "Brazil", "BR", "BRA", "BRL", "55", "America/Sao_Paulo", -23.55, -46.63),
    place!("Mexico City", "Mexico City", "CMX", "0####", "Mexico", "MX", "MEX", "MXN", "52", "America/Mexico_City", 19.43, -99.13),
    place!("Bengaluru", "Karnataka", "KA", "560###", "India", "IN", "IND", "INR", "91", "Asia/Kolkata", 12.97, 77.59),
    place!("Mumbai", "Maharashtra", "MH", "400###", "India", "IN", "IND", "INR", "91", "Asia/Kolkata", 19.08, 72.88),
    place!("Cape Town", "Western Cape", "WC", "8###", "South Africa", "ZA", "ZAF", "ZAR", "27", "Africa/Johannesburg", -33.92, 18.42),
    place!("Singapore", "Singapore", "SG", "######", "Singapore", "SG", "SGP", "SGD", "65", "Asia/Singapore", 1.35, 103.82),
];

/// Languages, for columns named so.
pub const LANGUAGES: &[&str] = &[
    "English",
    "French",
    "German",
    "Spanish",
    "Italian",
    "Portuguese",
    "Dutch",
    "Swedish",
    "Japanese",
    "Mandarin",
    "Hindi",
    "Polish",
    "Norwegian",
    "Danish",
    "Finnish",
    "Arabic",
];

/// Domains of generated email addresses (reserved for examples: never anyone's).
const DOMAINS: &[&str] = &["example.com", "example.org", "example.net"];

/// Address roles whose columns describe another place than the row's own
/// (`ship_city`, `billing_country`); other prefixes (`home_phone`) mean the row's own.
const OTHER_PLACES: &[&str] = &[
    "ship",
    "shipping",
    "billing",
    "bill",
    "delivery",
    "mailing",
    "work",
    "business",
    "pickup",
    "dropoff",
    "origin",
    "destination",
    "birth",
];

/// The role a place column plays (`""` for the row's own place, `ship` for
/// `ship_city`).
pub fn place_role(column: &str) -> &str {
    let lower = column.split('_').next().unwrap_or_default();
    match OTHER_PLACES.iter().find(|r| r.eq_ignore_ascii_case(lower)) {
        Some(role) if column.len() > lower.len() => role,
        _ => "",
    }
}

/// A stable number from a name (a role, a column): where a persona's draws for it start.
fn salt(name: &str) -> u64 {
    name.bytes().fold(0x51u64, |h, b| h.rotate_left(5) ^ u64::from(b))
}

/// The person a row describes.
#[derive(Debug, Clone)]
pub struct Person {
    pub first: String,
    pub last: String,
    /// Drawn with the name, so the handle and the address keep to the same person.
    pub domain: &'static str,
    pub number: u32,
}

/// A place a row describes, with what is drawn for it.
#[derive(Debug, Clone)]
pub struct PlaceDraw {
    pub place: &'static Place,
    pub postcode: String,
    pub jitter: (f64, f64),
}

/// The persona of one row: drawn on first use, then the same for every column.
pub struct Persona {
    seed: u64,
    person: OnceCell<Person>,
    places: RefCell<Vec<(String, PlaceDraw)>>,
}

/// Mixed into a table's key: the persona's generator is not any column's.
const PERSONA_SALT: u64 = 0x7e45_0a4a_9e12_33c1;

impl Persona {
    /// The persona of row `index` (counting rows already there) of the table with `key`.
    pub fn new(table_key: u64, index: u64) -> Self {
        Self { seed: derive(table_key ^ PERSONA_SALT, index), person: OnceCell::new(), places: RefCell::default() }
    }

    pub fn person(&self) -> &Person {
        self.person.get_or_init(|| {
            let mut rng = Rng::seed_from_u64(self.seed);
            let first: String = name::FirstName().fake_with_rng(&mut rng);
            let last: String = name::LastName().fake_with_rng(&mut rng);
            Person {
                first,
                last,
                domain: DOMAINS[rng.random_range(0..DOMAINS.len())],
                number: rng.random_range(1..100),
            }
        })
    }

    /// The place of `role` (`""`: the row's own).
    pub fn place(&self, role: &str) -> PlaceDraw {
        if let Some((_, p)) = self.places.borrow().iter().find(|(r, _)| r == role) {
            return p.clone();
        }
        let mut rng = Rng::seed_from_u64(derive(self.seed, salt(role)));
        let place = &PLACES[rng.random_range(0..PLACES.len())];
        let postcode: String = place
            .postcode
            .chars()
            .map(|c| match c {
                '#' => char::from(b'0' + rng.random_range(0..10u8)),
                '@' => char::from(b'A' + rng.random_range(0..26u8)),
                other => other,
            })
            .collect();
        let jitter = (rng.random_range(-0.05..0.05), rng.random_range(-0.05..0.05));
        let draw = PlaceDraw { place, postcode, jitter };
        self.places.borrow_mut().push((role.to_owned(), draw.clone()));
        draw
    }

    /// `first.last` in lower-case ASCII letters, digits and dots: an email's local part.
    pub fn handle(&self) -> String {
        let p = self.person();
        let clean = |s: &str| s.to_lowercase().chars().filter(char::is_ascii_alphanumeric).collect::<String>();
        format!("{}.{}", clean(&p.first), clean(&p.last))
    }

    /// What generator `f` says of this row for `column`, when it describes the row's
    /// person or place; `None` for every other generator.
    pub fn text(&self, f: Faker, column: &str) -> Option<String> {
        let role = || place_role(column);
        Some(match f {
            Faker::FirstName => self.person().first.clone(),
            Faker::LastName => self.person().last.clone(),
            Faker::FullName => format!("{} {}", self.person().first, self.person().last),
            Faker::Email => format!("{}@{}", self.handle(), self.person().domain),
            Faker::Username => {
                let p = self.person();
                let initial: String = p.first.chars().take(1).collect();
                let last: String = p.last.chars().filter(char::is_ascii_alphanumeric).collect();
                format!("{initial}{last}{}", p.number).to_lowercase()
            }
            Faker::City => self.place(role()).place.city.to_owned(),
            Faker::State => self.place(role()).place.region.to_owned(),
            Faker::StateCode => self.place(role()).place.region_code.to_owned(),
            Faker::Zip => self.place(role()).postcode,
            Faker::Country => self.place(role()).place.country.to_owned(),
            Faker::CountryCode => self.place(role()).place.iso2.to_owned(),
            // The place's dialling code; each phone column (phone, fax) its own number.
            Faker::Phone => {
                let mut rng = Rng::seed_from_u64(derive(self.seed, salt(column) ^ 0x9e37));
                let digits: String = (0..9).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
                format!("+{} {} {} {}", self.place(role()).place.dial, &digits[..3], &digits[3..6], &digits[6..])
            }
            Faker::Currency => self.place(role()).place.currency.to_owned(),
            Faker::TimeZone => self.place(role()).place.time_zone.to_owned(),
            Faker::Latitude => {
                let d = self.place(role());
                format!("{:.6}", d.place.lat + d.jitter.0)
            }
            Faker::Longitude => {
                let d = self.place(role());
                format!("{:.6}", d.place.lon + d.jitter.1)
            }
            _ => return None,
        })
    }

    /// A shorter form of what `text` gave, for a column too short for it: codes for a
    /// country or region.
    pub fn short_text(&self, f: Faker, column: &str, max: usize) -> Option<String> {
        let d = || self.place(place_role(column));
        Some(match f {
            Faker::Country if max >= 3 => d().place.iso3.to_owned(),
            Faker::Country | Faker::CountryCode => d().place.iso2.to_owned(),
            Faker::State => d().place.region_code.to_owned(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postcode_fits(pattern: &str, code: &str) -> bool {
        pattern.chars().count() == code.chars().count()
            && pattern.chars().zip(code.chars()).all(|(p, c)| match p {
                '#' => c.is_ascii_digit(),
                '@' => c.is_ascii_uppercase(),
                other => other == c,
            })
    }

    /// r19.15: the columns of one row describe one person and one place (per address
    /// role), whichever columns ask first; and the same row gives the same answers.
    #[test]
    fn one_row_describes_one_person_and_one_place_per_role() {
        for index in 0..500 {
            let p = Persona::new(0xfeed, index);
            let (first, last) =
                (p.text(Faker::FirstName, "first_name").unwrap(), p.text(Faker::LastName, "x").unwrap());
            let email = p.text(Faker::Email, "email").unwrap();
            let local =
                format!("{first}.{last}").to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "");
            assert_eq!(email.split('@').next(), Some(local.as_str()), "{first} {last}: {email}");
            assert!(DOMAINS.iter().any(|d| email.ends_with(&format!("@{d}"))), "{email}");
            let user = p.text(Faker::Username, "username").unwrap();
            let initial: String = first.chars().take(1).collect::<String>().to_lowercase();
            assert!(user.starts_with(&initial), "{first} {last}: {user}");
            assert_eq!(p.text(Faker::FullName, "contact_name").unwrap(), format!("{first} {last}"));
            for role in ["", "ship_"] {
                let col = |c: &str| format!("{role}{c}");
                let city = p.text(Faker::City, &col("city")).unwrap();
                let place = PLACES.iter().find(|pl| pl.city == city).unwrap();
                assert_eq!(p.text(Faker::State, &col("region")).unwrap(), place.region);
                assert_eq!(p.text(Faker::Country, &col("country")).unwrap(), place.country);
                assert_eq!(p.text(Faker::CountryCode, &col("country_code")).unwrap(), place.iso2);
                assert_eq!(p.text(Faker::Currency, &col("currency")).unwrap(), place.currency);
                let zip = p.text(Faker::Zip, &col("postal_code")).unwrap();
                assert!(postcode_fits(place.postcode, &zip), "{city}: {zip}");
                let phone = p.text(Faker::Phone, &col("phone")).unwrap();
                assert!(phone.starts_with(&format!("+{} ", place.dial)), "{city}: {phone}");
                assert_ne!(phone, p.text(Faker::Phone, &col("fax")).unwrap(), "phone and fax are two numbers");
                assert_eq!(p.short_text(Faker::Country, &col("country"), 2).unwrap(), place.iso2);
            }
            let again = Persona::new(0xfeed, index);
            assert_eq!(again.text(Faker::Zip, "ship_postal_code"), p.text(Faker::Zip, "ship_postal_code"));
            assert_eq!(again.text(Faker::Email, "email"), Some(email));
        }
        assert_eq!(place_role("ship_city"), "ship");
        assert_eq!(place_role("home_phone"), "");
        assert_eq!(place_role("city"), "");
        assert_eq!(place_role("shipping"), "");
    }

    #[test]
    fn places_are_well_formed() {
        for p in PLACES {
            assert!(p.iso2.len() == 2 && p.iso3.len() == 3 && p.currency.len() == 3, "{p:?}");
            assert!(!p.region_code.is_empty() && p.time_zone.contains('/'), "{p:?}");
            assert!((-90.0..=90.0).contains(&p.lat) && (-180.0..=180.0).contains(&p.lon), "{p:?}");
        }
    }
}
