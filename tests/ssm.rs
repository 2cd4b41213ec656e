//! The SSM transport against moto's SSM API on 127.0.0.1 (started by scripts/test.sh, which exports
//! TANDEM_TEST_MOTO). moto records SendCommand and answers every invocation with an empty Success,
//! so these tests check what it can show: the exact requests tandem sends (document, parameters,
//! target, timeouts, quoting), the polling, the call count and error mapping. The command logic
//! shared with the other transports is covered end to end against real Slurm in tests/slurm.rs.

use std::time::Duration;
use tandem::transport::ssm::{Ssm, SsmConfig};
use tandem::transport::{Script, Transport, HOSTILE};
use tokio_util::sync::CancellationToken;

fn moto() -> String {
    std::env::var("TANDEM_TEST_MOTO").unwrap_or_else(|_| {
        panic!("TANDEM_TEST_MOTO is not set: run the tests with scripts/test.sh, which starts moto")
    })
}

async fn ssm(user: Option<&str>, target: &str) -> Ssm {
    Ssm::connect(SsmConfig {
        target: target.into(),
        user: user.map(str::to_string),
        region: Some("us-east-1".into()),
        endpoint: Some(moto()),
        log_group: Some("/tandem/ssm".into()),
        max_attempts: Some(1),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn send_command_carries_the_quoted_script_as_the_user_with_its_timeout() {
    let t = ssm(Some("ec2-user"), "i-0123456789abcdef0").await;
    let mut script = Script::new();
    for v in HOSTILE {
        script = script.cmd(&["printf", "%s\\n", v]).unwrap();
    }
    let script = script.build();
    let out = t
        .run(&script, Duration::from_secs(90), &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(out.code, 0);
    assert!(t.api_calls() >= 2, "SendCommand and at least one poll");
    // what moto recorded is exactly what was meant
    let cmds = t.client().list_commands().send().await.unwrap();
    let c = cmds
        .commands()
        .iter()
        .find(|c| {
            c.instance_ids()
                .contains(&"i-0123456789abcdef0".to_string())
        })
        .expect("the command was sent");
    assert_eq!(c.document_name(), Some("AWS-RunShellScript"));
    let p = c.parameters().unwrap();
    assert_eq!(p["executionTimeout"], vec!["90".to_string()]);
    let sent = &p["commands"][0];
    assert_eq!(sent, &t.command_text(&script).unwrap());
    assert!(sent.starts_with("runuser -l ec2-user -c "), "{sent:.60}");
    // (moto does not echo CloudWatchOutputConfig back, so the log group is not checked here)
    // run the sent text through a real shell: it prints the corpus back, nothing interpreted
    let inner = shlex::split(sent.strip_prefix("runuser -l ec2-user -c ").unwrap()).unwrap();
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(&inner[0])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&o.stdout);
    for v in HOSTILE {
        assert!(printed.contains(&format!("{v}\n")), "{v:?} in {printed}");
    }
}

#[tokio::test]
async fn errors_become_one_message_naming_the_instance() {
    // moto answers CancelCommand with HTTP 500: cancelling still ends the wait at once
    let t = ssm(None, "i-0aaaaaaaaaaaaaaaa").await;
    let c = CancellationToken::new();
    c.cancel();
    let e = t
        .run("true", Duration::from_secs(30), &c)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "cancelled");
    // no AWS at this address at all
    let dead = Ssm::connect(SsmConfig {
        target: "i-0bbbbbbbbbbbbbbbb".into(),
        region: Some("us-east-1".into()),
        endpoint: Some("http://127.0.0.1:9".into()),
        max_attempts: Some(1),
        ..Default::default()
    })
    .await;
    let e = dead
        .run("true", Duration::from_secs(30), &CancellationToken::new())
        .await
        .unwrap_err();
    let m = e.to_string();
    assert!(
        m.starts_with("AWS: SendCommand on i-0bbbbbbbbbbbbbbbb"),
        "{m}"
    );
}
