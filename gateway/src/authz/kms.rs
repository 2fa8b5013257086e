//! What each KMS operation asks of the authorizer: its action (`kms:` and the operation; for
//! ReEncrypt both `kms:ReEncryptFrom` and `kms:ReEncryptTo`), the master key it acts on (named
//! in the body, or inside a ciphertext blob), and the `kms:EncryptionContext:...` condition keys.
//! Pure functions of the JSON body; the KMS API resolves keys and asks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use policy::Context;
use serde_json::Value;

/// What a question is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// No one key: CreateKey, ListKeys, ListAliases, GenerateRandom (resource `*`).
    Any,
    /// A key id, key ARN, alias name or alias ARN from the body.
    Key(String),
    /// The key a ciphertext blob names (Decrypt, ReEncrypt's source).
    Blob(Vec<u8>),
    /// The body lacks the field or it does not decode: the operation itself refuses the call.
    Unreadable,
}

/// One question a KMS call asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsAsk {
    /// The action, such as `kms:Decrypt`.
    pub action: String,
    /// What it is asked about.
    pub target: Target,
}

/// The questions of `operation` with its JSON `body`.
pub fn asks(operation: &str, body: &Value) -> Vec<KmsAsk> {
    let ask = |action: &str, target| KmsAsk {
        action: action.to_owned(),
        target,
    };
    let key = |field: &str| match body.get(field).and_then(Value::as_str) {
        Some(key) => Target::Key(key.to_owned()),
        None => Target::Unreadable,
    };
    let blob = || match body.get("CiphertextBlob").and_then(Value::as_str) {
        Some(text) => BASE64.decode(text).map_or(Target::Unreadable, Target::Blob),
        None => Target::Unreadable,
    };
    let action = format!("kms:{operation}");
    match operation {
        "CreateKey" | "ListKeys" | "ListAliases" | "GenerateRandom" => {
            vec![ask(&action, Target::Any)]
        }
        "Decrypt" => vec![ask(&action, blob())],
        "ReEncrypt" => vec![
            ask("kms:ReEncryptFrom", blob()),
            ask("kms:ReEncryptTo", key("DestinationKeyId")),
        ],
        // AWS asks for the alias and the key; the key is what policies here can name.
        "CreateAlias" | "UpdateAlias" => vec![ask(&action, key("TargetKeyId"))],
        "DeleteAlias" => vec![ask(&action, key("AliasName"))],
        _ => vec![ask(&action, key("KeyId"))],
    }
}

/// Adds the KMS condition keys of the body to `context`: `kms:EncryptionContext:NAME` for each
/// pair of the encryption context (ReEncrypt: of the destination) and
/// `kms:EncryptionContextKeys` with every name.
pub fn fill_context(context: &mut Context, operation: &str, body: &Value) {
    let field = match operation {
        "ReEncrypt" => "DestinationEncryptionContext",
        _ => "EncryptionContext",
    };
    let Some(pairs) = body.get(field).and_then(Value::as_object) else {
        return;
    };
    for (name, value) in pairs {
        if let Some(value) = value.as_str() {
            context.set(&format!("kms:EncryptionContext:{name}"), value);
        }
    }
    context.set_all("kms:EncryptionContextKeys", pairs.keys().cloned().collect());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_ask_about_their_key() {
        let body = json!({"KeyId": "alias/app", "Plaintext": "aGk="});
        let expected = vec![KmsAsk {
            action: "kms:Encrypt".into(),
            target: Target::Key("alias/app".into()),
        }];
        assert_eq!(asks("Encrypt", &body), expected);
        assert_eq!(asks("ListKeys", &json!({}))[0].target, Target::Any);
        let re = asks(
            "ReEncrypt",
            &json!({"CiphertextBlob": "AQID", "DestinationKeyId": "k"}),
        );
        assert_eq!(re[0].action, "kms:ReEncryptFrom");
        assert_eq!(re[0].target, Target::Blob(vec![1, 2, 3]));
        assert_eq!(re[1].target, Target::Key("k".into()));
        assert_eq!(
            asks("Decrypt", &json!({"CiphertextBlob": "%%"}))[0].target,
            Target::Unreadable
        );
    }

    #[test]
    fn encryption_context_becomes_condition_keys() {
        let body = json!({"KeyId": "k", "EncryptionContext": {"app": "billing", "env": "prod"}});
        let mut context = Context::new();
        fill_context(&mut context, "GenerateDataKey", &body);
        assert_eq!(
            context.get("kms:EncryptionContext:app"),
            Some(&["billing".to_owned()][..])
        );
        assert_eq!(
            context
                .get("kms:EncryptionContextKeys")
                .map(<[String]>::len),
            Some(2)
        );
    }
}
