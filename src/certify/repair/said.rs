//! What an API said when a repair step's request failed: its status and reason phrase (where
//! Proxmox VE puts its error text: "Parameter verification failed.", "Permission check failed
//! (/vms/100, VM.Config.Network)") and the body's `errors` object, which names each parameter
//! it refused. Without it the ledger would only say "status: expected [200], got 400".

use serde_json::Value;

use crate::probe::Observation;

/// `HTTP 400 Parameter verification failed. (mtu: type check ('integer') failed - got '')`,
/// or `None` for an answer that is not an HTTP error.
pub(super) fn said(obs: &Observation) -> Option<String> {
    let status = obs.status.filter(|s| *s >= 400)?;
    let mut line = format!("HTTP {status}");
    if let Some(phrase) = obs
        .reason_phrase
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        line.push(' ');
        line.push_str(phrase);
    }
    let errors: Vec<String> = obs
        .json
        .as_ref()
        .and_then(|j| j.get("errors"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}: {}", s.trim_end()),
            other => format!("{k}: {other}"),
        })
        .collect();
    if !errors.is_empty() {
        line.push_str(&format!(" ({})", errors.join("; ")));
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::said;
    use crate::probe::Observation;
    use serde_json::json;

    #[test]
    fn names_the_reason_phrase_and_every_refused_parameter() {
        let obs = Observation {
            status: Some(400),
            reason_phrase: Some("Parameter verification failed.".into()),
            json: Some(json!({"data": null, "errors": {
                "mtu": "type check ('integer') failed - got ''",
                "gateway": "invalid format - value does not look like a valid IPv4 address\n",
            }})),
            ..Observation::default()
        };
        assert_eq!(
            said(&obs).unwrap(),
            "HTTP 400 Parameter verification failed. (mtu: type check ('integer') failed - got ''; \
             gateway: invalid format - value does not look like a valid IPv4 address)"
        );
        let ok = Observation {
            status: Some(200),
            ..Observation::default()
        };
        assert_eq!(said(&ok), None);
    }
}
