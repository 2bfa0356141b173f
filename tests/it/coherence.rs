//! r19.15: rows that look real on real schemas. The columns of one row describe one
//! person and one place: an email made from the row's own name, a city, region,
//! postcode, country and phone prefix of one real place (and a second one for an
//! address role such as `ship_`); column names common in real schemas get values of
//! their kind (a job title for an employee's `title`, a courtesy title, a language).
//! Checked on northwind and pagila (PostgreSQL).

use std::collections::BTreeMap;

use seed::factory::places::{LANGUAGES, PLACES};

use crate::bulk::bulk;
use crate::common::expect_code;
use crate::common::{TestDb, Workdir, repo_path, shared_fixture};

/// Rows of `sql` as tab-separated fields.
fn rows(db: &TestDb, sql: &str) -> Vec<Vec<String>> {
    let text = db.psql(&format!("COPY ({sql}) TO STDOUT"));
    text.lines().map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

/// Checks (city, region, postcode, country[, phone]) of rows against one real place
/// each; a value too long for its column is the place's short form (codes).
fn assert_places(what: &str, rows: &[Vec<String>]) {
    assert!(rows.len() > 20, "{what}: too few rows to judge");
    let mut per_country = BTreeMap::new();
    for r in rows.iter().filter(|r| r.iter().all(|v| v != "\\N")) {
        let (city, region, postcode, country) = (&r[0], &r[1], &r[2], &r[3]);
        let place = PLACES
            .iter()
            .find(|p| {
                p.city.starts_with(city.as_str()) && (p.country == country || p.iso2 == country || p.iso3 == country)
            })
            .unwrap_or_else(|| panic!("{what}: {city}, {country} is not one real place: {r:?}"));
        assert!(region == place.region || region == place.region_code, "{what}: {region} is not {place:?}'s region");
        let shape = |p: char, c: char| match p {
            '#' => c.is_ascii_digit(),
            '@' => c.is_ascii_uppercase(),
            other => other == c,
        };
        let fits = place.postcode.chars().count() == postcode.chars().count()
            && place.postcode.chars().zip(postcode.chars()).all(|(p, c)| shape(p, c));
        assert!(fits, "{what}: {postcode} is not a postcode of {}", place.city);
        if let Some(phone) = r.get(4) {
            assert!(phone.starts_with(&format!("+{} ", place.dial)), "{what}: {phone} does not dial {}", place.country);
        }
        *per_country.entry(place.iso2).or_insert(0) += 1;
    }
    assert!(per_country.len() > 5, "{what}: the places should vary: {per_country:?}");
}

#[test]
fn r19_15_northwind_rows_describe_one_person_and_one_place() {
    let db = TestDb::new("coherent_nw");
    db.load_file(&shared_fixture("northwind/northwind.sql"));
    // northwind's own customers (text keys) stay as they were: only new rows are judged.
    let own: Vec<String> = rows(&db, "SELECT customer_id FROM customers").into_iter().map(|r| r[0].clone()).collect();
    let w = Workdir::new();
    expect_code(&bulk(&w, &db.url(), &["--count", "200"]), 0);
    let new = "employee_id > 9"; // northwind's own 9 employees stay as they were
    let jobs = ["Supervisor", "Manager", "Director", "Representative", "Engineer", "Specialist", "Analyst"];
    let titles = rows(&db, &format!("SELECT title, title_of_courtesy, extension FROM employees WHERE {new}"));
    assert!(titles.len() >= 100, "{titles:?}");
    let job_like = titles.iter().filter(|r| r[0] != "\\N" && r[0].split(' ').count() >= 2).count();
    assert!(job_like * 10 >= titles.len() * 9, "employees.title should be job titles: {:?}", &titles[..5]);
    assert!(titles.iter().any(|r| jobs.iter().any(|j| r[0].ends_with(j))), "{:?}", &titles[..5]);
    for r in titles.iter().filter(|r| r[1] != "\\N") {
        assert!(["Mr.", "Mrs.", "Ms.", "Miss", "Dr."].contains(&r[1].as_str()), "title_of_courtesy {}", r[1]);
    }
    assert!(titles.iter().filter(|r| r[2] != "\\N").all(|r| r[2].chars().all(|c| c.is_ascii_digit())), "{titles:?}");
    let employees = "SELECT city, region, postal_code, country, home_phone FROM employees WHERE employee_id > 9";
    assert_places("employees", &rows(&db, employees));
    let customers = rows(&db, "SELECT city, region, postal_code, country, phone, customer_id FROM customers");
    let customers: Vec<Vec<String>> = customers.into_iter().filter(|r| !own.contains(&r[5])).collect();
    assert_places(
        "customers",
        &customers
            .into_iter()
            .map(|mut r| {
                r.truncate(5);
                r
            })
            .collect::<Vec<_>>(),
    );
    // An order's ship_* columns describe one place of their own.
    let orders = "SELECT ship_city, ship_region, ship_postal_code, ship_country FROM orders WHERE order_id > 11077";
    assert_places("orders (ship_)", &rows(&db, orders));
    let regions = rows(&db, "SELECT region_description FROM region WHERE region_id > 4");
    assert!(regions.iter().all(|r| !r[0].ends_with('.')), "region names, not sentences: {regions:?}");
    let towns = rows(&db, "SELECT trim(territory_description) FROM territories");
    let made = towns.iter().filter(|r| PLACES.iter().any(|p| p.city == r[0])).count();
    assert!(made >= 150, "territory descriptions are towns: {:?}", &towns[towns.len() - 5..]);
    let contacts =
        rows(&db, "SELECT contact_name, contact_title, customer_id FROM customers WHERE contact_name IS NOT NULL");
    let contacts: Vec<_> = contacts.into_iter().filter(|r| !own.contains(&r[2])).collect();
    assert!(contacts.len() > 100 && contacts.iter().all(|r| r[0].split(' ').count() == 2), "{contacts:?}");
}

#[test]
fn r19_15_pagila_emails_come_from_the_rows_names() {
    let db = TestDb::new("coherent_pagila");
    db.load_file(&repo_path("tests/fixtures/pagila/schema.sql"));
    let w = Workdir::new();
    expect_code(&bulk(&w, &db.url(), &["--count", "300"]), 0);
    for table in ["customer", "staff"] {
        let people = rows(&db, &format!("SELECT first_name, last_name, email FROM {table} WHERE email IS NOT NULL"));
        assert!(people.len() > 100, "{table}: {}", people.len());
        for r in &people {
            let clean = |s: &str| s.to_lowercase().chars().filter(char::is_ascii_alphanumeric).collect::<String>();
            let local = format!("{}.{}", clean(&r[0]), clean(&r[1]));
            assert!(r[2].starts_with(&local), "{table}: {} {} has the email {}", r[0], r[1], r[2]);
        }
    }
    let languages = rows(&db, "SELECT trim(name) FROM language");
    assert!(languages.iter().all(|r| LANGUAGES.contains(&r[0].as_str())), "{languages:?}");
    let usernames = rows(&db, "SELECT first_name, username FROM staff");
    for r in &usernames {
        let initial: String = r[0].chars().take(1).collect::<String>().to_lowercase();
        assert!(r[1].starts_with(&initial), "{r:?}");
    }
    // Same seed, same bytes (the persona is a function of seed, table and row).
    let before = db.dump_data();
    let again = TestDb::new("coherent_pagila2");
    again.load_file(&repo_path("tests/fixtures/pagila/schema.sql"));
    expect_code(&bulk(&w, &again.url(), &["--count", "300"]), 0);
    assert_eq!(again.dump_data(), before);
}
