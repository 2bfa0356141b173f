//! Real places and languages: what the name and place columns of generated rows
//! describe (`persona`), and what place generators draw from on their own (`values`).
//! Data only.

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
