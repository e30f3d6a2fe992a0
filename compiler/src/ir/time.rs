//! UTC dates for the calendars a spec states (`rotation.starts`): parsed
//! and printed here, with no clock and no time zone database, so a build
//! never depends on the day or the machine it runs on.

/// Seconds since the Unix epoch of `YYYY-MM-DD` (midnight UTC) or
/// `YYYY-MM-DDTHH:MM:SSZ`, years 1970–9999; `None` for anything else.
pub fn parse_utc(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let d = b.get(r)?;
        d.iter()
            .all(u8::is_ascii_digit)
            .then(|| d.iter().fold(0, |n, c| n * 10 + u64::from(c - b'0')))
    };
    let (date, time) = match b.len() {
        10 => (b, None),
        20 if b[10] == b'T' && b[19] == b'Z' => (&b[..10], Some(())),
        _ => return None,
    };
    if date[4] != b'-' || date[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if time.is_some() {
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if h > 23 || mi > 59 || se > 59 {
            return None;
        }
        secs += h * 3600 + mi * 60 + se;
    }
    Some(secs)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (years past 9999
/// print with more digits).
pub fn format_utc(secs: u64) -> String {
    let (y, m, d) = civil_from_days(secs / 86_400);
    let t = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// [`format_utc`] for milliseconds since the epoch, with `.mmm` only when
/// the time is not a whole second.
pub fn format_utc_ms(ms: u64) -> String {
    let s = format_utc(ms / 1000);
    match ms % 1000 {
        0 => s,
        r => format!("{}.{r:03}Z", &s[..s.len() - 1]),
    }
}

fn leap(y: u64) -> bool {
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 (H. Hinnant's algorithm, for years ≥ 1970).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: u64) -> (u64, u64, u64) {
    let z = z + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // Values from `date -u -d … +%s`.
        assert_eq!(parse_utc("1970-01-01"), Some(0));
        assert_eq!(parse_utc("2000-02-29"), Some(951_782_400));
        assert_eq!(parse_utc("2027-01-04T09:00:00Z"), Some(1_799_053_200));
        assert_eq!(parse_utc("9999-12-31T23:59:59Z"), Some(253_402_300_799));
        assert_eq!(format_utc(1_799_053_200), "2027-01-04T09:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc_ms(1_799_053_200_000), "2027-01-04T09:00:00Z");
        assert_eq!(format_utc_ms(1_799_053_200_042), "2027-01-04T09:00:00.042Z");
    }

    #[test]
    fn refused() {
        for s in [
            "",
            "2027-1-04",
            "2027-02-29",
            "1900-02-28",
            "1969-12-31",
            "2027-13-01",
            "2027-01-00",
            "2027-01-04T24:00:00Z",
            "2027-01-04T09:00:00",
            "2027-01-04 09:00:00Z",
            "2027-01-04T09:00:00+01:00",
            "２０２７-01-04",
            "+027-01-04",
            "2027-01-04T09:60:00Z",
        ] {
            assert_eq!(parse_utc(s), None, "{s:?}");
        }
    }

    #[test]
    fn round_trip() {
        for days in (0..3_000_000u64).step_by(997) {
            let s = format_utc(days * 86_400 + 3_723);
            if days * 86_400 <= 253_402_300_799 {
                assert_eq!(parse_utc(&s), Some(days * 86_400 + 3_723), "{s}");
            }
        }
    }
}
