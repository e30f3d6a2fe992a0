//! The generated spec's rotation calendar (what the service verifies with)
//! and `auth/rotation.json` (what operators rotate by) state the same dates.
//! Expected instants are from `date -u -d … +%s`, not from either side.

use std::time::{Duration, SystemTime};
use triage_service::generated::api::SPEC;

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn the_runtime_calendar_and_rotation_json_agree() {
    let rotation = SPEC
        .jwt
        .and_then(|j| j.rotation)
        .expect("the flagship rotates");
    let c = rotation.calendar();
    let k0 = c.window(0);
    // starts = "2027-01-04": k0 published 2026-12-28, signs from 2027-01-04.
    assert_eq!(
        (secs(k0.publish), secs(k0.sign_from)),
        (1_798_416_000, 1_799_020_800)
    );
    // k13 is retired 2028-03-06.
    assert_eq!(secs(c.window(13).retire), 1_835_913_600);
    // Inside k1's publish overlap both kids verify; before the start, none signs.
    let t = k0.sign_until - Duration::from_secs(3600);
    assert_eq!(c.verifying_at(t), vec![0, 1]);
    assert_eq!(c.signing_at(k0.publish), None);

    let json: serde_json::Value =
        serde_json::from_str(include_str!("../src/generated/auth/rotation.json")).unwrap();
    let keys = json["keys"].as_array().unwrap();
    assert_eq!(keys[0]["publish"], "2026-12-28T00:00:00Z");
    assert_eq!(keys[0]["sign_from"], "2027-01-04T00:00:00Z");
    assert_eq!(keys[13]["retire"], "2028-03-06T00:00:00Z");
    assert_eq!(keys.len(), 14);
    for (n, k) in keys.iter().enumerate() {
        assert_eq!(k["kid"], format!("k{n}"));
        // The calendar's whole days are the file's midnights.
        let w = c.window(n as u32);
        for (field, t) in [
            ("publish", w.publish),
            ("sign_from", w.sign_from),
            ("retire", w.retire),
        ] {
            assert_eq!(secs(t) % 86_400, 0, "k{n} {field}");
            assert!(
                k[field].as_str().unwrap().ends_with("T00:00:00Z"),
                "k{n} {field}"
            );
        }
    }
}
