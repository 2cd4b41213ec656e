//! `update` driven with messages, no terminal: state and Commands are asserted.

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tandem::app::command::Command;
use tandem::app::msg::Msg;
use tandem::app::state::*;
use tandem::app::update::update;
use tandem::pipeline::{RunEvent, RunState};
use tandem::project::PhaseId;
use tandem::storage::{Entry, ObjectMeta};

/// A CloudWatch failure with this message.
fn cw(msg: &str) -> tandem::observe::cloudwatch::CwError {
    tandem::observe::cloudwatch::CwError {
        kind: tandem::aws::FailureKind::Service,
        msg: msg.into(),
    }
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}
fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}
fn idle() -> AppState {
    let mut s = common::state();
    // nothing running
    s.runs[0] = common::run(
        "20261125-115900-abcd",
        RunState::Succeeded,
        RunState::Succeeded,
    );
    s
}

#[test]
fn r_runs_the_pipeline_when_nothing_runs() {
    let mut s = idle();
    assert_eq!(
        update(&mut s, key('r')),
        vec![Command::StartRun {
            phases: vec![PhaseId::Preprocess, PhaseId::Solve],
            reuse: false
        }]
    );
    assert_eq!(
        update(&mut s, key('s')),
        vec![Command::StartRun {
            phases: vec![PhaseId::Solve],
            reuse: false
        }]
    );
}

#[test]
fn r_refuses_while_a_run_is_going() {
    let mut s = common::state();
    assert!(update(&mut s, key('r')).is_empty());
    assert_eq!(s.status.as_ref().unwrap().level, Level::Warn);
}

#[test]
fn cancel_asks_first() {
    let mut s = common::state();
    assert!(update(&mut s, key('c')).is_empty());
    assert!(matches!(s.popup, Some(Popup::Confirm { .. })));
    assert!(update(&mut s, key('n')).is_empty());
    assert!(s.popup.is_none());
    update(&mut s, key('c'));
    assert_eq!(
        update(&mut s, key('y')),
        vec![Command::CancelRun {
            run_id: "20261125-115900-abcd".into()
        }]
    );
}

#[test]
fn help_palette_and_quit() {
    let mut s = idle();
    update(&mut s, key('?'));
    assert_eq!(s.popup, Some(Popup::Help));
    // keys are consumed by the popup
    assert!(update(&mut s, key('r')).is_empty());
    update(&mut s, code(KeyCode::Esc));
    assert!(s.popup.is_none());
    update(&mut s, key(':'));
    for c in "run solve".chars() {
        update(&mut s, key(c));
    }
    assert_eq!(
        update(&mut s, code(KeyCode::Enter)),
        vec![Command::StartRun {
            phases: vec![PhaseId::Solve],
            reuse: false
        }]
    );
    // Ctrl-C quits from anywhere, even inside a prompt
    update(&mut s, key('3'));
    update(&mut s, key('/'));
    assert!(s.prompt.is_some());
    let cmds = update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert_eq!(cmds, vec![Command::Quit]);
    assert!(s.quit);
}

#[test]
fn a_new_run_becomes_current_and_is_followed() {
    let mut s = idle();
    let r = common::run("20261125-120500-ffff", RunState::Running, RunState::Pending);
    let cmds = update(&mut s, Msg::Run(RunEvent::Updated(Box::new(r))));
    assert_eq!(s.current.as_deref(), Some("20261125-120500-ffff"));
    assert!(cmds.contains(&Command::FollowLogs {
        run_id: "20261125-120500-ffff".into()
    }));
    assert!(cmds.contains(&Command::LoadMetrics {
        run_id: "20261125-120500-ffff".into()
    }));
    assert!(s.logs.buf.is_empty());
}

#[test]
fn solve_success_refreshes_plots_and_says_so() {
    let mut s = common::state();
    let done = common::run(
        "20261125-115900-abcd",
        RunState::Succeeded,
        RunState::Succeeded,
    );
    let cmds = update(&mut s, Msg::Run(RunEvent::Updated(Box::new(done))));
    assert!(
        cmds.iter().any(|c| matches!(c, Command::PlotFiles { .. })),
        "{cmds:?}"
    );
    assert!(s.status.as_ref().unwrap().text.contains("solve succeeded"));
    // the end of the phase rings the bell / notifies
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::Notify { text } if text.contains("solve succeeded"))),
        "{cmds:?}"
    );
}

#[test]
fn paused_logs_count_new_lines() {
    let mut s = common::state();
    update(&mut s, key('4'));
    update(&mut s, key('f'));
    assert!(!s.logs.follow);
    let lines = vec![
        tandem::observe::logbuf::LogLine {
            phase: PhaseId::Solve,
            stderr: false,
            element: None,
            text: "x".into(),
            look: None,
            at: 0,
            tag: None,
        };
        3
    ];
    update(
        &mut s,
        Msg::LogLines {
            run_id: "20261125-115900-abcd".into(),
            lines,
            live: vec![],
        },
    );
    assert_eq!(s.logs.unseen, 3);
    // End resumes following
    update(&mut s, code(KeyCode::End));
    assert!(s.logs.follow);
    assert_eq!(s.logs.unseen, 0);
    // lines of another run are not mixed in
    update(
        &mut s,
        Msg::LogLines {
            run_id: "other".into(),
            lines: vec![],
            live: vec![],
        },
    );
}

#[test]
fn log_search_finds_and_steps() {
    let mut s = common::state();
    update(&mut s, key('4'));
    update(&mut s, key('/'));
    for c in "heat2d".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Enter));
    let first = s.logs.hit.expect("a hit");
    assert!(s.logs.buf.get(first).unwrap().text.contains("heat2d"));
    update(&mut s, key('N'));
    let prev = s.logs.hit.unwrap();
    assert!(prev < first);
}

#[test]
fn datasets_browse_streams_pages_and_ignores_stale_ones() {
    let mut s = idle();
    s.datasets = DatasetsState::default();
    let cmds = update(&mut s, key('2'));
    let req = match &cmds[..] {
        [Command::CancelList, Command::List {
            req,
            bucket,
            prefix,
            token: None,
        }] => {
            assert_eq!(
                (bucket.as_str(), prefix.as_str()),
                ("lake", "heat-diffusion/")
            );
            *req
        }
        other => panic!("{other:?}"),
    };
    assert!(s.datasets.loading);
    let page = vec![
        Entry::Prefix {
            prefix: "heat-diffusion/raw/".into(),
        },
        Entry::Object(ObjectMeta {
            key: "heat-diffusion/\u{1b}[2Jevil.txt".into(),
            size: 3,
            modified: None,
            etag: None,
            storage_class: None,
        }),
    ];
    update(
        &mut s,
        Msg::StorePage {
            req: req - 1,
            entries: page.clone(),
            next: Some("t1".into()),
        },
    );
    assert!(s.datasets.rows.is_empty(), "a stale page was applied");
    update(
        &mut s,
        Msg::StorePage {
            req,
            entries: page,
            next: None,
        },
    );
    assert_eq!(s.datasets.rows.len(), 2);
    assert!(!s.datasets.loading);
    // hostile keys are shown escaped
    assert_eq!(s.datasets.rows[1].name(), "\\e[2Jevil.txt");
    // Enter on a prefix lists it
    let cmds = update(&mut s, code(KeyCode::Enter));
    assert!(matches!(&cmds[1], Command::List { prefix, .. } if prefix == "heat-diffusion/raw/"));
    // Esc while loading cancels the listing
    assert_eq!(
        update(&mut s, code(KeyCode::Esc)),
        vec![Command::CancelList]
    );
    assert!(!s.datasets.loading);
}

#[test]
fn a_failed_listing_keeps_its_rows_and_r_continues_from_the_page_that_failed() {
    let mut s = idle();
    s.datasets = DatasetsState::default();
    let cmds = update(&mut s, key('2'));
    let Command::List { req, .. } = cmds[1].clone() else {
        panic!("{cmds:?}")
    };
    let obj = |k: &str| {
        Entry::Object(ObjectMeta {
            key: k.into(),
            size: 1,
            modified: None,
            etag: None,
            storage_class: None,
        })
    };
    update(
        &mut s,
        Msg::StorePage {
            req,
            entries: vec![obj("heat-diffusion/a"), obj("heat-diffusion/b")],
            next: Some("after-b".into()),
        },
    );
    update(
        &mut s,
        Msg::StoreError {
            req,
            error: tandem::storage::StoreError::Network(
                "lake/heat-diffusion/: cannot reach S3 (connection refused)".into(),
            ),
        },
    );
    assert!(!s.datasets.loading);
    let err = s.datasets.error.clone().unwrap();
    assert!(
        err.contains("cannot reach S3") && err.contains("R continues"),
        "{err}"
    );
    assert_eq!(s.datasets.rows.len(), 2, "rows kept");
    let cmds = update(&mut s, key('R'));
    assert_eq!(
        cmds,
        vec![Command::List {
            req: req + 1,
            bucket: "lake".into(),
            prefix: "heat-diffusion/".into(),
            token: Some("after-b".into()),
        }]
    );
    assert!(s.datasets.error.is_none() && s.datasets.loading);
    update(
        &mut s,
        Msg::StorePage {
            req: req + 1,
            entries: vec![obj("heat-diffusion/c")],
            next: None,
        },
    );
    assert_eq!(s.datasets.rows.len(), 3);
    // complete now: R lists again from the start
    let cmds = update(&mut s, key('R'));
    assert!(
        matches!(&cmds[1], Command::List { token: None, .. }),
        "{cmds:?}"
    );
}

#[test]
fn filter_narrows_the_list_live() {
    let mut s = common::state();
    update(&mut s, key('2'));
    update(&mut s, key('/'));
    for c in "0003".chars() {
        update(&mut s, key(c));
    }
    assert_eq!(s.datasets.visible().len(), 1);
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.datasets.visible().len(), 5);
}

#[test]
fn the_clock_only_comes_from_ticks() {
    let mut s = idle();
    let before = s.now;
    assert!(update(&mut s, Msg::Tick(common::t(13, 0, 0))).is_empty());
    assert_ne!(s.now, before);
    assert_eq!(s.now, common::t(13, 0, 0));
}

#[test]
fn plot_snapshots_step_and_load() {
    let mut s = common::state();
    update(&mut s, key('6'));
    let cmds = update(&mut s, code(KeyCode::Left));
    assert!(
        matches!(&cmds[..], [Command::LoadPlot { file, .. }] if file == "snapshots/field_0010.npy"),
        "{cmds:?}"
    );
    let cmds = update(&mut s, code(KeyCode::Tab));
    assert!(
        matches!(&cmds[..], [Command::PlotFiles { plot: 1, .. }]),
        "{cmds:?}"
    );
}

#[test]
fn broken_project_only_allows_looking_and_leaving() {
    let err = tandem::project::parse(std::path::Path::new("x.toml"), "[project]\nname = 1\n")
        .unwrap_err();
    let mut s = AppState::new(
        Err(err),
        "local".into(),
        String::new(),
        tandem::theme::Theme::embedded("dark"),
        common::t(12, 0, 0),
    );
    assert!(update(&mut s, key('r')).is_empty());
    assert_eq!(update(&mut s, key('q')), vec![Command::Quit]);
}

#[test]
fn previews_by_kind() {
    use tandem::storage::preview::make_preview;
    use tandem::storage::preview::Preview;
    // NPY: header and statistics of the head, without the whole object
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("f.npy");
    tandem::tools::heat2d::write_npy(&p, 2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    match make_preview("x/f.npy", &bytes, bytes.len() as u64) {
        Preview::Text { lines, .. } => {
            assert!(
                lines[0].contains("dtype <f8 · shape (2, 3) · C order"),
                "{lines:?}"
            );
            assert!(
                lines[2].contains("min 1.000000 · max 6.000000 · mean 3.500000"),
                "{lines:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // JSON pretty, CSV as a table, binary as hex, hostile text escaped
    assert!(
        matches!(make_preview("m.json", br#"{"a":[1,2]}"#, 11), Preview::Text { ref lines, .. } if lines.len() == 6)
    );
    assert!(
        matches!(make_preview("t.csv", b"a,b\n1,2\n", 8), Preview::Table { ref header, .. } if header == &["a", "b"])
    );
    assert!(matches!(
        make_preview("x.bin", &[0u8, 1, 2, 3, 255, 0, 0, 7], 8),
        Preview::Binary { .. }
    ));
    let text = b"a log line that is long enough to count as text\n\x1b]0;title\x07\n";
    match make_preview("log.txt", text, text.len() as u64) {
        Preview::Text { lines, .. } => assert_eq!(lines[1], "\\e]0;title\\x07"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sync_is_planned_asked_about_with_the_plan_and_then_started() {
    use tandem::app::transfers::*;
    let mut s = idle();
    s.view = View::Datasets;
    s.download_dir = "/home/r/out".into();
    let prefix = s.datasets.prefix.clone();
    assert!(update(&mut s, key('S')).is_empty());
    assert!(matches!(s.prompt, Some(Prompt::Path { .. })));
    let cmds = update(&mut s, code(KeyCode::Enter));
    let spec = TransferSpec {
        dir: Direction::Down,
        bucket: "lake".into(),
        key: prefix,
        local: "/home/r/out".into(),
        recursive: true,
        overwrite: true,
        sync: true,
    };
    assert_eq!(
        cmds,
        vec![Command::PlanSync {
            id: 0,
            spec: spec.clone()
        }]
    );
    assert!(s.transfers.list.is_empty(), "nothing moves before the yes");
    let summary = "3 to copy (1.2 KiB: 3 new, 0 changed), 7 unchanged (2 KiB)";
    update(
        &mut s,
        Msg::SyncPlanned {
            id: 0,
            spec: spec.clone(),
            summary: Ok(summary.into()),
        },
    );
    match &s.popup {
        Some(Popup::Confirm { text, .. }) => assert!(text.contains(summary), "{text}"),
        other => panic!("{other:?}"),
    }
    let cmds = update(&mut s, key('y'));
    assert_eq!(cmds, vec![Command::Transfer { id: 0, spec }]);
    assert_eq!(s.transfers.list.len(), 1);
    // a plan that could not be made says why, and asks nothing
    let spec = s.transfers.list[0].spec.clone();
    update(
        &mut s,
        Msg::SyncPlanned {
            id: 1,
            spec,
            summary: Err("no such bucket `lake`".into()),
        },
    );
    assert!(s.popup.is_none());
}

#[test]
fn download_asks_where_refuses_to_overwrite_without_asking_and_retries() {
    use tandem::app::transfers::*;
    let mut s = idle();
    s.view = View::Datasets;
    s.download_dir = "/home/r/".into();
    s.datasets.selected = 0; // the archive/ folder
    assert!(update(&mut s, key('d')).is_empty());
    assert!(matches!(s.prompt, Some(Prompt::Path { .. })));
    update(&mut s, key('x'));
    update(&mut s, code(KeyCode::Backspace));
    let cmds = update(&mut s, code(KeyCode::Enter));
    let spec = TransferSpec {
        dir: Direction::Down,
        bucket: "lake".into(),
        key: "heat-diffusion/raw/archive/".into(),
        local: "/home/r/".into(),
        recursive: true,
        overwrite: false,
        sync: false,
    };
    assert_eq!(
        cmds,
        vec![Command::Transfer {
            id: 0,
            spec: spec.clone()
        }]
    );
    update(
        &mut s,
        Msg::TransferProgress {
            id: 0,
            progress: TransferProgress {
                done: 50,
                total: 100,
                files_done: 1,
                files_total: 2,
                elapsed_ms: 1000,
            },
        },
    );
    assert_eq!(s.transfers.totals(), Some((50, 100, 50.0)));
    assert_eq!(s.transfers.list[0].eta_secs(), Some(1));
    // a local file is in the way: a question, and only `y` replaces it
    update(
        &mut s,
        Msg::TransferEnded {
            id: 0,
            state: TransferState::Exists("/home/r/archive/a.csv".into()),
        },
    );
    assert!(
        matches!(&s.popup, Some(Popup::Confirm { text, .. }) if text.contains("/home/r/archive/a.csv exists"))
    );
    let cmds = update(&mut s, key('y'));
    assert_eq!(
        cmds,
        vec![Command::Transfer {
            id: 0,
            spec: TransferSpec {
                overwrite: true,
                ..spec.clone()
            }
        }]
    );
    // it fails: the status says so and R in Transfers tries again
    update(
        &mut s,
        Msg::TransferEnded {
            id: 0,
            state: TransferState::Failed("cannot reach S3".into()),
        },
    );
    assert!(s
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("failed: cannot reach S3"));
    update(&mut s, key('7'));
    assert_eq!(s.view, View::Transfers);
    let cmds = update(&mut s, key('R'));
    assert!(matches!(&cmds[..], [Command::Transfer { id: 0, .. }]));
    // c asks, y cancels
    update(&mut s, key('c'));
    assert_eq!(
        update(&mut s, key('y')),
        vec![Command::CancelTransfer { id: 0 }]
    );
    // Esc in the prompt starts nothing
    update(&mut s, key('2'));
    update(&mut s, key('u'));
    assert!(update(&mut s, code(KeyCode::Esc)).is_empty());
    assert!(s.prompt.is_none());
}

#[test]
fn etags_are_kept_compact_and_shown_as_s3_sent_them() {
    let md5 = "\"9b2cf535f27731c974343645a3985328\"";
    let e = ETag::parse(md5);
    assert!(matches!(e, ETag::Md5(_)));
    assert_eq!(e.to_string(), md5.trim_matches('"'));
    let multipart = ETag::parse("\"d41d8cd98f00b204e9800998ecf8427e-12\"");
    assert_eq!(multipart.to_string(), "d41d8cd98f00b204e9800998ecf8427e-12");
    assert_eq!(ETag::parse("\u{1b}[31mx").to_string(), "\\e[31mx");
    assert_eq!(
        ETag::parse("9B2CF535F27731C974343645A3985328").to_string(),
        "9B2CF535F27731C974343645A3985328"
    );
}

#[test]
fn jobs_view_needs_a_slurm_target_and_asks_before_scancel() {
    use tandem::engine::slurm::QueueJob;
    let mut s = idle();
    // the fixture project has no Slurm target: the view says how to add one
    assert!(update(&mut s, key('8')).is_empty());
    assert_eq!(s.view, View::Jobs);
    assert!(s
        .jobs
        .error
        .as_deref()
        .unwrap()
        .contains("kind = \"slurm\""));
    s.jobs.error = None;
    s.jobs.target = Some("hpc".into());
    let job = |id: &str, state: &str| QueueJob {
        id: id.into(),
        state: state.into(),
        ..Default::default()
    };
    update(
        &mut s,
        Msg::JobsLoaded {
            result: Ok(vec![job("12", "COMPLETED"), job("11", "RUNNING")]),
            api_calls: 0,
        },
    );
    // sorted by id: 11 first
    assert_eq!(s.jobs.visible()[0].id, "11");
    update(&mut s, key('c'));
    assert!(matches!(s.popup, Some(Popup::Confirm { .. })));
    assert_eq!(
        update(&mut s, key('y')),
        vec![Command::CancelJob {
            target: "hpc".into(),
            id: "11".into()
        }]
    );
    // the filter narrows, the clock refreshes every 10 s while the view is shown
    update(&mut s, key('/'));
    update(&mut s, key('1'));
    update(&mut s, key('2'));
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.jobs.visible().len(), 1);
    let later = s.now + chrono::Duration::seconds(11);
    assert_eq!(
        update(&mut s, Msg::Tick(later)),
        vec![Command::LoadJobs {
            target: "hpc".into()
        }]
    );
    assert!(
        update(&mut s, Msg::Tick(later)).is_empty(),
        "one request in flight"
    );
}

#[test]
fn jobs_enter_follows_the_log_by_offset_and_esc_closes_it() {
    use tandem::app::jobs::JobLogChunk;
    use tandem::engine::joblog::Reading;
    use tandem::engine::slurm::{JobStatus, QueueJob};
    let mut s = idle();
    update(&mut s, key('8'));
    s.jobs.error = None;
    s.jobs.target = Some("hpc".into());
    let job = QueueJob {
        id: "7".into(),
        name: "solve".into(),
        state: "RUNNING".into(),
        ..Default::default()
    };
    update(
        &mut s,
        Msg::JobsLoaded {
            result: Ok(vec![job]),
            api_calls: 0,
        },
    );
    // Enter: one follower, from the start (the paths asked of scontrol: none known yet)
    assert_eq!(
        update(&mut s, code(KeyCode::Enter)),
        vec![Command::JobLog {
            target: "hpc".into(),
            id: "7".into(),
            paths: None,
            offsets: (0, 0)
        }]
    );
    let status = |st: &str| JobStatus {
        job_id: "7".into(),
        state: st.into(),
        ..Default::default()
    };
    let paths = ("/w/slurm-7.out".to_string(), "/w/slurm-7.err".to_string());
    let chunk = |st: &str, out: &[u8]| JobLogChunk {
        paths: paths.clone(),
        reading: Some(Reading::Streamed("file events".into())),
        status: status(st),
        stdout: out.to_vec(),
        stderr: vec![],
    };
    update(
        &mut s,
        Msg::JobLog {
            id: "7".into(),
            result: Ok(chunk("RUNNING", b"a\nb")),
        },
    );
    // the follower brings what comes: the clock asks for nothing
    let later = s.now + chrono::Duration::seconds(3);
    assert!(update(&mut s, Msg::Tick(later))
        .iter()
        .all(|c| !matches!(c, Command::JobLog { .. })));
    update(
        &mut s,
        Msg::JobLog {
            id: "7".into(),
            result: Ok(chunk("COMPLETED", b"c\n")),
        },
    );
    let l = s.jobs.log.as_ref().unwrap();
    let text: Vec<&str> = l.lines.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(text, ["a", "bc"], "a line split across answers is joined");
    assert_eq!(l.offsets, (5, 0));
    assert!(!l.done);
    // ended, and read to the end
    update(
        &mut s,
        Msg::JobLog {
            id: "7".into(),
            result: Ok(chunk("COMPLETED", b"")),
        },
    );
    assert!(s.jobs.log.as_ref().unwrap().done);
    // Esc closes the log and stops its follower
    assert_eq!(
        update(&mut s, code(KeyCode::Esc)),
        vec![Command::StopJobLog]
    );
    assert!(s.jobs.log.is_none());
    assert_eq!(s.view, View::Jobs, "Esc closed the log, not the view");
}

#[test]
fn clusters_view_discovers_and_points_a_target_at_a_node_after_asking() {
    use tandem::cluster::{Cluster, Discovery, Node};
    let mut s = idle();
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/projects/valid/minimal.toml"
    ))
    .unwrap()
        + "\n[targets.pcs]\nkind = \"slurm\"\ntransport = \"ssm\"\ninstance_id = \"i-0123456789abcdef0\"\n";
    s.project = Ok(tandem::project::parse(std::path::Path::new("tandem.toml"), &src).unwrap());
    assert_eq!(update(&mut s, key('9')), vec![Command::LoadClusters]);
    assert_eq!(s.clusters.for_target.as_deref(), Some("pcs"));
    let node = |id: &str| Node {
        instance_id: id.into(),
        group: "controller".into(),
        status: "Running".into(),
        ssm_target: format!("sagemaker-cluster:abc_controller-{id}"),
        ..Default::default()
    };
    let d = Discovery {
        clusters: vec![Cluster {
            name: "c".into(),
            id: "abc".into(),
            nodes: vec![node("i-1"), node("i-2")],
            ..Default::default()
        }],
        api_calls: 3,
    };
    update(&mut s, Msg::ClustersLoaded(Ok(d)));
    // `u` needs a node: focus the nodes (→), move down, then ask
    update(&mut s, key('u'));
    assert!(s.popup.is_none());
    update(&mut s, code(KeyCode::Right));
    update(&mut s, key('j'));
    update(&mut s, key('u'));
    assert!(matches!(s.popup, Some(Popup::Confirm { .. })));
    assert_eq!(
        update(&mut s, key('y')),
        vec![Command::UseNode {
            target: "pcs".into(),
            ssm: "sagemaker-cluster:abc_controller-i-2".into()
        }]
    );
    // a minute later, while shown, discovery runs again
    let later = s.now + chrono::Duration::seconds(61);
    assert!(update(&mut s, Msg::Tick(later)).contains(&Command::LoadClusters));
}

#[test]
fn clusters_view_shows_the_target_ray_cluster_with_r_and_refreshes_it() {
    let mut s = idle();
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/projects/valid/minimal.toml"
    ))
    .unwrap()
        + "\n[targets.hp]\nkind = \"slurm\"\ntransport = \"local\"\nray_dashboard = \"http://127.0.0.1:8265\"\n";
    s.project = Ok(tandem::project::parse(std::path::Path::new("tandem.toml"), &src).unwrap());
    update(&mut s, key('9'));
    // a target without a dashboard says how to set one, and asks nothing
    s.target = "local".into();
    assert!(update(&mut s, key('r')).is_empty());
    assert!(s
        .clusters
        .ray_error
        .as_deref()
        .unwrap()
        .contains("ray_dashboard"));
    update(&mut s, key('r'));
    s.target = "hp".into();
    s.clusters.ray_error = None;
    assert_eq!(
        update(&mut s, key('r')),
        vec![Command::LoadRay {
            target: "hp".into()
        }]
    );
    update(
        &mut s,
        Msg::RayLoaded {
            result: Ok(tandem::engine::ray::RayCluster {
                jobs: vec![Default::default(), Default::default()],
                ..Default::default()
            }),
            requests: 3,
        },
    );
    assert_eq!(s.clusters.ray_requests, 3);
    update(&mut s, key('j'));
    assert_eq!(s.clusters.ray_job, 1, "keys move in the jobs");
    let soon = s.now + chrono::Duration::seconds(2);
    assert!(update(&mut s, Msg::Tick(soon)).is_empty());
    let later = s.now + chrono::Duration::seconds(6);
    assert!(
        update(&mut s, Msg::Tick(later)).contains(&Command::LoadRay {
            target: "hp".into()
        })
    );
}

#[test]
fn logs_filter_index_follows_new_lines_scrolls_jumps_to_errors_and_copies() {
    use tandem::observe::logbuf::LogLine;
    let mut s = idle();
    s.view = View::Logs;
    s.logs.run_id = Some("r".into());
    s.logs.buf = Default::default();
    let line = |i: u32, stderr: bool, text: &str| LogLine {
        phase: if i.is_multiple_of(2) {
            PhaseId::Solve
        } else {
            PhaseId::Preprocess
        },
        stderr,
        element: None,
        text: format!("{i} {text}"),
        look: None,
        at: 0,
        tag: None,
    };
    let batch: Vec<LogLine> = (0..1000)
        .map(|i| line(i, false, if i % 10 == 3 { "WARN slow" } else { "ok" }))
        .collect();
    update(
        &mut s,
        Msg::LogLines {
            run_id: "r".into(),
            lines: batch,
            live: vec![],
        },
    );
    // & opens the prompt with the current filter; typing filters as it goes
    update(&mut s, key('&'));
    for c in "warn".chars() {
        update(&mut s, key(c));
    }
    assert_eq!(s.logs.matched.len(), 100, "smart case: `warn` matches WARN");
    update(&mut s, code(KeyCode::Enter));
    // new lines join the index when they pass
    update(
        &mut s,
        Msg::LogLines {
            run_id: "r".into(),
            lines: vec![line(1000, false, "warn again"), line(1001, false, "fine")],
            live: vec![],
        },
    );
    assert_eq!(s.logs.matched.len(), 101);
    let rows = tandem::app::layout::log_rows(&s);
    let shown = tandem::app::logs::visible(&s, rows);
    assert_eq!(
        shown.last(),
        Some(&1000),
        "following shows the newest match"
    );
    assert!(shown.iter().all(|q| s
        .logs
        .buf
        .get(*q)
        .unwrap()
        .text
        .to_lowercase()
        .contains("warn")));
    // paging moves through the matches, not the buffer
    update(&mut s, key('g'));
    assert!(!s.logs.follow);
    assert_eq!(tandem::app::logs::visible(&s, rows)[0], 3);
    update(&mut s, code(KeyCode::PageDown));
    assert_eq!(
        tandem::app::logs::visible(&s, rows)[0],
        3 + 10 * rows as u64
    );
    // the source choice narrows the index too (odd lines are preprocess, even ones solve)
    update(&mut s, key('t'));
    assert_eq!(s.logs.matched.len(), 100);
    update(&mut s, key('t'));
    assert_eq!(
        s.logs.matched.len(),
        1,
        "only `1000 warn again` is a solve line"
    );
    update(&mut s, key('t'));
    // inverted
    tandem::app::logs::set_filter(&mut s, "!warn".into());
    assert_eq!(s.logs.matched.len(), 901);
    // an invalid regex is matched as text, and says so
    tandem::app::logs::set_filter(&mut s, "slow(".into());
    assert!(s.logs.filter.as_ref().unwrap().literal);
    assert!(s.status.as_ref().unwrap().text.contains("plain text"));
    tandem::app::logs::set_filter(&mut s, String::new());
    assert!(s.logs.filter.is_none() && s.logs.matched.is_empty());
    // E: the first error line (stderr or an error word), marked
    update(
        &mut s,
        Msg::LogLines {
            run_id: "r".into(),
            lines: vec![
                line(1002, false, "Traceback (most recent call last):"),
                line(1003, true, "boom"),
            ],
            live: vec![],
        },
    );
    update(&mut s, key('E'));
    assert_eq!(s.logs.hit, Some(1002));
    assert!(!s.logs.follow);
    // y copies the marked line through OSC 52
    let c = update(&mut s, key('y'));
    assert_eq!(
        c,
        vec![Command::Copy {
            text: "1002 Traceback (most recent call last):".into()
        }]
    );
    let osc = tandem::app::logs::osc52("a\u{1b}b");
    assert_eq!(
        osc, "\u{1b}]52;c;YRti\u{7}",
        "base64: the text cannot end the sequence"
    );
    // T shows timestamps
    update(&mut s, key('T'));
    assert!(s.logs.stamps);
    // v selects from the marked line; the cursor moves over shown lines; y copies them all
    update(&mut s, key('v'));
    assert_eq!((s.logs.sel, s.logs.hit), (Some(1002), Some(1002)));
    update(&mut s, code(KeyCode::Up));
    update(&mut s, code(KeyCode::Up));
    assert_eq!(s.logs.hit, Some(1000));
    let c = update(&mut s, key('y'));
    assert_eq!(
        c,
        vec![Command::Copy {
            text: "1000 warn again\n1001 fine\n1002 Traceback (most recent call last):".into()
        }]
    );
    assert!(s.status.as_ref().unwrap().text.contains("copied 3 lines"));
    assert_eq!(
        (s.logs.sel, s.logs.hit),
        (None, None),
        "a copy ends the selection"
    );
    // under a filter it moves over (and copies) only the lines that pass
    tandem::app::logs::set_filter(&mut s, "warn".into());
    update(&mut s, code(KeyCode::End));
    assert!(s.logs.follow);
    update(&mut s, key('v'));
    assert_eq!(s.logs.hit, Some(1000), "following: the newest shown line");
    assert!(!s.logs.follow);
    update(&mut s, code(KeyCode::Up));
    assert_eq!(s.logs.hit, Some(993));
    update(&mut s, code(KeyCode::Home));
    assert_eq!(s.logs.hit, Some(3));
    let top_rows = tandem::app::logs::visible(&s, rows);
    assert_eq!(top_rows[0], 3, "the view follows the cursor");
    let c = update(&mut s, key('y'));
    let Command::Copy { text } = &c[0] else {
        panic!("{c:?}")
    };
    assert_eq!(text.lines().count(), 101);
    assert!(text.lines().all(|l| l.to_lowercase().contains("warn")));
    // Esc drops a selection without copying
    update(&mut s, key('v'));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!((s.logs.sel, s.logs.hit), (None, None));
}

fn with_cloud_metrics(s: &mut AppState) {
    if let Ok(p) = &mut s.project {
        p.targets.get_mut("local").unwrap().cloudwatch.metrics =
            tandem::project::default_queries("i-0abc");
    }
}

#[test]
fn metrics_view_fetches_cloudwatch_when_due_and_only_while_on_screen() {
    let mut s = idle();
    with_cloud_metrics(&mut s);
    s.view = View::Metrics;
    let load = |period: i32, stat: Option<&str>| Command::LoadCloudMetrics {
        target: "local".into(),
        period,
        stat: stat.map(Into::into),
        since_secs: period as i64 * 240,
    };
    assert_eq!(update(&mut s, key('c')), vec![load(60, None)]);
    assert!(
        s.needs_tick(),
        "the refresh needs the clock while the view shows"
    );
    // in flight: ticks ask nothing more
    let t0 = s.now;
    assert!(update(&mut s, Msg::Tick(t0 + chrono::Duration::seconds(1))).is_empty());
    let series = tandem::observe::cloudwatch::Series {
        label: "CPU %".into(),
        points: vec![(1, 5.0), (2, 7.0)],
        status: "Complete".into(),
    };
    update(&mut s, Msg::CloudMetrics(Ok(vec![series])));
    assert_eq!(s.metrics.cw.len(), 1);
    assert!(update(&mut s, Msg::Tick(t0 + chrono::Duration::seconds(30))).is_empty());
    assert_eq!(
        update(&mut s, Msg::Tick(t0 + chrono::Duration::seconds(62))),
        vec![load(60, None)]
    );
    update(
        &mut s,
        Msg::CloudMetrics(Err(cw("GetMetricData: Throttling — slowed down"))),
    );
    assert!(s
        .metrics
        .cw_error
        .as_deref()
        .unwrap()
        .contains("Throttling"));
    assert_eq!(s.metrics.cw.len(), 1, "the last good data stays");
    // off screen: nothing is fetched, however long
    update(&mut s, key('4'));
    assert!(update(&mut s, Msg::Tick(t0 + chrono::Duration::seconds(600))).is_empty());
    update(&mut s, key('5'));
    // period and statistic
    s.metrics.cw_loading = false;
    assert_eq!(update(&mut s, key('p')), vec![load(300, None)]);
    s.metrics.cw_loading = false;
    assert_eq!(update(&mut s, key('s')), vec![load(300, Some("Average"))]);
    assert_eq!(update(&mut s, key('s')), vec![load(300, Some("Maximum"))]);
    // back to the run's samples
    assert!(update(&mut s, key('c')).is_empty());
    assert!(!s.metrics.cloud);
}

#[test]
fn cloudwatch_metrics_without_queries_say_how_to_add_them() {
    let mut s = idle();
    s.view = View::Metrics;
    assert!(update(&mut s, key('c')).is_empty());
    let e = s.metrics.cw_error.clone().unwrap();
    assert!(
        e.contains("names no CloudWatch metrics") && e.contains("[[targets.local.metrics]]"),
        "{e}"
    );
}

#[test]
fn cloudwatch_lines_join_the_timeline_at_their_own_time_under_the_filter() {
    use tandem::observe::logbuf::LogLine;
    let mut s = idle();
    s.logs.buf.clear();
    s.view = View::Logs;
    let run = s.logs.run_id.clone().unwrap();
    let line = |at: i64, text: &str, tag: Option<&str>| LogLine {
        phase: PhaseId::Solve,
        stderr: false,
        element: None,
        text: text.into(),
        look: None,
        at,
        tag: tag.map(Into::into),
    };
    update(
        &mut s,
        Msg::LogLines {
            run_id: run.clone(),
            lines: vec![line(1000, "step 1", None), line(3000, "step 3", None)],
            live: vec![],
        },
    );
    tandem::app::logs::set_filter(&mut s, "step|job".into());
    assert_eq!(s.logs.matched.len(), 2);
    // a CloudWatch event from between them, read later
    update(
        &mut s,
        Msg::LogLines {
            run_id: run.clone(),
            lines: vec![
                line(2000, "job 7 started", Some("cw:pc/head")),
                line(4000, "noise", Some("cw:pc/head")),
            ],
            live: vec![],
        },
    );
    let texts: Vec<&str> = s.logs.buf.iter().map(|(_, l)| l.text.as_str()).collect();
    assert_eq!(texts, ["step 1", "job 7 started", "step 3", "noise"]);
    let shown: Vec<&str> = s
        .logs
        .matched
        .iter()
        .map(|q| s.logs.buf.get(*q).unwrap().text.as_str())
        .collect();
    assert_eq!(shown, ["step 1", "job 7 started", "step 3"]);
    // `t` now offers the CloudWatch lines alone
    update(&mut s, key('t'));
    update(&mut s, key('t'));
    update(&mut s, key('t'));
    assert_eq!(s.logs.source, LogSource::Cloud);
    let v = tandem::app::logs::visible(&s, 10);
    assert_eq!(v.len(), 1, "cw lines passing the filter");
    update(&mut s, key('t'));
    assert_eq!(s.logs.source, LogSource::All);
}

#[test]
fn cloudwatch_browser_opens_groups_marks_streams_and_tails_them_into_the_timeline() {
    use tandem::observe::cloudwatch::{LogGroup, LogStream};
    let mut s = idle();
    s.view = View::Logs;
    assert_eq!(
        update(&mut s, key('C')),
        vec![Command::CloudGroups {
            target: "local".into()
        }]
    );
    let g = |n: &str| LogGroup {
        name: n.into(),
        stored_bytes: 2048,
        retention_days: None,
        created_ms: 0,
    };
    update(
        &mut s,
        Msg::CloudGroups(Ok(vec![
            g("/aws/lambda/x"),
            g("/aws/parallelcluster/pc-1"),
            g("/aws/sagemaker/Clusters/ray/abc"),
        ])),
    );
    // typing narrows; keys go to the browser, not the log view
    for c in "PARALLEL".chars() {
        assert!(update(&mut s, key(c)).is_empty());
    }
    assert_eq!(s.logs.browse.as_ref().unwrap().list.rows().len(), 1);
    assert!(s.logs.filter.is_none());
    assert_eq!(
        update(&mut s, code(KeyCode::Enter)),
        vec![Command::CloudStreams {
            target: "local".into(),
            group: "/aws/parallelcluster/pc-1".into()
        }]
    );
    let st = |n: &str| LogStream {
        name: n.into(),
        first_event_ms: None,
        last_event_ms: Some(1),
    };
    // a stale answer for another group is dropped
    update(
        &mut s,
        Msg::CloudStreams {
            group: "/aws/lambda/x".into(),
            result: Ok(vec![st("wrong")]),
        },
    );
    assert!(s.logs.browse.as_ref().unwrap().list.items.is_empty());
    update(
        &mut s,
        Msg::CloudStreams {
            group: "/aws/parallelcluster/pc-1".into(),
            result: Ok(vec![
                st("head.slurmctld"),
                st("compute-1.slurmd"),
                st("compute-2.slurmd"),
            ]),
        },
    );
    update(&mut s, code(KeyCode::Down));
    update(&mut s, key(' '));
    update(&mut s, key(' '));
    let run = s.logs.run_id.clone().unwrap();
    assert_eq!(
        update(&mut s, code(KeyCode::Enter)),
        vec![Command::TailCloud {
            target: "local".into(),
            group: "/aws/parallelcluster/pc-1".into(),
            streams: vec!["compute-1.slurmd".into(), "compute-2.slurmd".into()],
            into: run,
        }]
    );
    assert!(s.logs.browse.is_none());
    // Esc walks back: streams, groups, closed
    update(&mut s, key('C'));
    update(
        &mut s,
        Msg::CloudGroups(Err(cw(
            "DescribeLogGroups: AccessDeniedException — the profile's role lacks this permission",
        ))),
    );
    assert!(s
        .logs
        .browse
        .as_ref()
        .unwrap()
        .list
        .error
        .as_ref()
        .unwrap()
        .contains("lacks"));
    update(&mut s, code(KeyCode::Esc));
    assert!(s.logs.browse.is_none());
}

#[test]
fn e_exports_the_plot_on_screen_to_the_download_directory() {
    let mut s = idle();
    s.view = View::Plots;
    s.download_dir = "/home/r/".into();
    s.plots.run_id = Some("20261125-115900-abcd".into());
    s.plots.files = vec![
        "snapshots/field_000.npy".into(),
        "snapshots/field_001.npy".into(),
    ];
    s.plots.snapshot = 1;
    let c = update(&mut s, key('e'));
    assert_eq!(
        c,
        vec![Command::ExportPlot {
            run_id: "20261125-115900-abcd".into(),
            plot: 0,
            file: "snapshots/field_001.npy".into(),
            out: "/home/r/temperature_field-20261125-115900-abcd-field_001.png".into(),
            compare: None,
            more: vec![],
            diff: false,
            hold: None,
            pick: None,
            element: None,
        }]
    );
    assert!(s
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("exporting to /home/r/"));
    // comparing, with the range held: both runs' difference, named so, on the held range
    s.plots.compare = Some("20261124-090000-beef".into());
    s.plots.diff = true;
    s.plots.hold = Some((0.0, 2.0));
    let c = update(&mut s, key('e'));
    assert_eq!(
        c,
        vec![Command::ExportPlot {
            run_id: "20261125-115900-abcd".into(),
            plot: 0,
            file: "snapshots/field_001.npy".into(),
            out: "/home/r/temperature_field-20261125-115900-abcd-minus-20261124-090000-beef-field_001.png".into(),
            compare: Some("20261124-090000-beef".into()),
            more: vec![],
            diff: true,
            hold: Some((0.0, 2.0)),
            pick: None,
            element: None,
        }]
    );
}

#[test]
fn with_a_pixel_protocol_heatmaps_ask_for_an_image_of_the_plot_area_and_again_on_resize() {
    let mut s = idle();
    s.view = View::Plots;
    s.size = (120, 40);
    s.plots.pixels = Some("kitty".into());
    let cmds = update(&mut s, code(KeyCode::Left));
    assert!(
        matches!(
            &cmds[..],
            [Command::LoadPlot {
                cells: Some((106, 34)),
                ..
            }]
        ),
        "{cmds:?}"
    );
    let req = s.plots.req;
    // the image arrives; a stale one is dropped
    let field = common::field(16);
    let img = tandem::plot::pixels::encode(
        &tandem::plot::pixels::Picker::halfblocks(),
        req,
        &field,
        "viridis",
        (0.0, 1.0),
        (106, 34),
    )
    .unwrap();
    let mut stale = img.clone();
    stale.req = req - 1;
    update(
        &mut s,
        Msg::PlotImage {
            req: req - 1,
            result: Ok(stale),
        },
    );
    assert!(s.plots.image.is_none());
    update(
        &mut s,
        Msg::PlotImage {
            req,
            result: Ok(img),
        },
    );
    assert_eq!(s.plots.image.as_ref().unwrap().cells, (106, 34));
    // a resize: one new request for the new area
    let cmds = update(&mut s, Msg::Resize(200, 60));
    assert!(
        matches!(
            &cmds[..],
            [Command::LoadPlot {
                cells: Some((186, 54)),
                ..
            }]
        ),
        "{cmds:?}"
    );
    assert!(
        update(&mut s, Msg::Resize(200, 60)).is_empty(),
        "same size: nothing"
    );
    // without a protocol the area is still sent: the field is averaged to its cells off the
    // UI task, and a resize asks again once a heatmap is on screen
    s.plots.pixels = None;
    let cmds = update(&mut s, code(KeyCode::Left));
    assert!(
        matches!(
            &cmds[..],
            [Command::LoadPlot {
                cells: Some((186, 54)),
                ..
            }]
        ),
        "{cmds:?}"
    );
    let f = common::field(16);
    let req = s.plots.req;
    update(
        &mut s,
        Msg::PlotLoaded {
            req,
            result: Ok(tandem::plot::load::PlotData::Field {
                stats: tandem::plot::FieldStats::of(&f),
                field: f,
                file: "x.npy".into(),
                about: None,
            }),
        },
    );
    let cmds = update(&mut s, Msg::Resize(80, 24));
    assert!(
        matches!(
            &cmds[..],
            [Command::LoadPlot {
                cells: Some((66, 18)),
                ..
            }]
        ),
        "{cmds:?}"
    );
}

#[test]
fn plots_play_the_snapshots_and_hold_the_colour_range() {
    let mut s = idle();
    s.view = View::Plots;
    s.plots.run_id = Some("r".into());
    s.plots.files = (0..3).map(|i| format!("f{i}.npy")).collect();
    s.plots.snapshot = 2;
    let f = common::field(16);
    let stats = tandem::plot::FieldStats::of(&f);
    s.plots.data = Some(tandem::plot::load::PlotData::Field {
        stats,
        field: f,
        file: "f2.npy".into(),
        about: None,
    });
    // H holds the range on screen; the next loads carry it
    update(&mut s, key('H'));
    assert_eq!(s.plots.hold, Some(stats.range));
    // Space plays: 2 a second by default (every other tick), from the last back to the first
    update(&mut s, key(' '));
    assert!(s.plots.playing && s.needs_tick());
    let t = s.now;
    assert!(update(&mut s, Msg::Tick(t))
        .iter()
        .all(|c| !matches!(c, Command::LoadPlot { .. })));
    let c = update(&mut s, Msg::Tick(t));
    assert!(
        matches!(&c[..], [Command::LoadPlot { file, hold: Some(_), .. }] if file == "f0.npy"),
        "{c:?}"
    );
    // while a snapshot loads, play waits for it
    assert!(s.plots.loading);
    assert!(update(&mut s, Msg::Tick(t)).is_empty());
    assert!(update(&mut s, Msg::Tick(t)).is_empty());
    // faster: every tick
    update(&mut s, key('>'));
    update(&mut s, key('>'));
    s.plots.loading = false;
    let c = update(&mut s, Msg::Tick(t));
    assert!(
        matches!(&c[..], [Command::LoadPlot { file, .. }] if file == "f1.npy"),
        "{c:?}"
    );
    // Space stops, H lets go
    update(&mut s, key(' '));
    assert!(!s.plots.playing);
    update(&mut s, key('H'));
    assert_eq!(s.plots.hold, None);
}

#[test]
fn metrics_browser_lists_namespaces_then_metrics_and_adds_the_marked_ones() {
    use tandem::project::MetricQuery;
    let mut s = idle();
    with_cloud_metrics(&mut s);
    s.view = View::Metrics;
    assert_eq!(
        update(&mut s, key('a')),
        vec![Command::ListMetrics {
            target: "local".into(),
            namespace: None
        }]
    );
    let q = |ns: &str, name: &str, dim: &str| MetricQuery {
        label: format!("{name} {dim}"),
        namespace: ns.into(),
        name: name.into(),
        dimensions: vec![("InstanceId".into(), dim.into())],
        stat: "Average".into(),
    };
    update(
        &mut s,
        Msg::MetricList {
            namespace: None,
            result: Ok(vec![
                q("AWS/EC2", "CPUUtilization", "i-0abc"),
                q("AWS/EC2", "NetworkIn", "i-0abc"),
                q("Solver", "Residual", "r1"),
            ]),
        },
    );
    let b = s.metrics.browse.as_ref().unwrap();
    assert_eq!(
        b.list.items,
        vec![
            ("AWS/EC2".to_string(), "2 metrics".to_string()),
            ("Solver".to_string(), "1 metrics".to_string())
        ]
    );
    // keys go to the browser: `s` is typed, not the statistic
    update(&mut s, key('s'));
    update(&mut s, key('o'));
    assert!(s.metrics.stat.is_none());
    assert_eq!(
        update(&mut s, code(KeyCode::Enter)),
        vec![Command::ListMetrics {
            target: "local".into(),
            namespace: Some("Solver".into())
        }]
    );
    // a late answer for every namespace is dropped
    update(
        &mut s,
        Msg::MetricList {
            namespace: None,
            result: Ok(vec![q("X", "Y", "z")]),
        },
    );
    assert!(s.metrics.browse.as_ref().unwrap().list.items.is_empty());
    update(
        &mut s,
        Msg::MetricList {
            namespace: Some("Solver".into()),
            result: Ok(vec![
                q("Solver", "Residual", "r1"),
                q("Solver", "Residual", "r2"),
                q("Solver", "Energy", "r1"),
            ]),
        },
    );
    // the default CPU query of i-0abc is charted; these are not
    let b = s.metrics.browse.as_ref().unwrap();
    assert_eq!(
        b.list.items[0],
        ("Residual InstanceId=r1".into(), String::new())
    );
    // mark two, Enter adds them with the statistic in use
    update(&mut s, key(' '));
    update(&mut s, key(' '));
    let c = update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        c,
        vec![Command::AddMetrics {
            target: "local".into(),
            queries: vec![q("Solver", "Residual", "r1"), q("Solver", "Residual", "r2")],
        }]
    );
    // added: the project is replaced, the browser closes, the charts load
    let mut p = s.project.clone().unwrap();
    p.targets
        .get_mut("local")
        .unwrap()
        .cloudwatch
        .metrics
        .push(q("Solver", "Residual", "r1"));
    let c = update(&mut s, Msg::MetricsAdded(Ok((2, Box::new(p)))));
    assert!(s.metrics.browse.is_none());
    assert!(s.metrics.cloud);
    assert!(matches!(c[..], [Command::LoadCloudMetrics { .. }]), "{c:?}");
    assert!(s.status.as_ref().unwrap().text.contains("added 2 metrics"));
    // an error keeps the browser and says why; Esc walks back and closes
    update(&mut s, key('a'));
    update(
        &mut s,
        Msg::MetricList {
            namespace: None,
            result: Err(cw("ListMetrics: AccessDenied \u{1b}[2J")),
        },
    );
    let e = s
        .metrics
        .browse
        .as_ref()
        .unwrap()
        .list
        .error
        .clone()
        .unwrap();
    assert!(e.contains("AccessDenied \\e[2J"), "{e}");
    update(&mut s, code(KeyCode::Esc));
    assert!(s.metrics.browse.is_none());
}

#[test]
fn plots_compare_with_older_runs_and_their_difference() {
    let mut s = idle();
    s.view = View::Plots;
    s.plots.run_id = Some("20261125-115900-abcd".into());
    s.plots.files = vec!["snapshots/field_0001.npy".into()];
    s.plots.snapshot = 0;
    // d before c: says what it needs
    assert!(update(&mut s, key('d')).is_empty());
    assert!(s.status.as_ref().unwrap().text.contains("c first"));
    let c = update(&mut s, key('c'));
    assert!(
        matches!(&c[..], [Command::LoadPlot { compare: Some(r), diff: false, file, .. }]
            if r == "20261124-090000-0001" && file == "snapshots/field_0001.npy"),
        "{c:?}"
    );
    let c = update(&mut s, key('d'));
    assert!(
        matches!(
            &c[..],
            [Command::LoadPlot {
                compare: Some(_),
                diff: true,
                ..
            }]
        ),
        "{c:?}"
    );
    // c again: no older run, comparing stops (and the difference with it)
    let c = update(&mut s, key('c'));
    assert!(
        matches!(
            &c[..],
            [Command::LoadPlot {
                compare: None,
                diff: false,
                ..
            }]
        ),
        "{c:?}"
    );
    assert!(s.status.as_ref().unwrap().text.contains("off"));
}

#[test]
fn plots_zoom_and_pan_ask_for_the_part_in_view() {
    use crossterm::event::{KeyEvent, KeyModifiers};
    let mut s = idle();
    s.view = View::Plots;
    let c = update(&mut s, key('+'));
    let w = s.plots.window.expect("zoomed");
    assert_eq!(w.zoom(), 2.0);
    assert!(
        matches!(&c[..], [Command::LoadPlot { window: Some(x), .. }] if *x == w),
        "{c:?}"
    );
    let ctrl = |k: KeyCode| Msg::Key(KeyEvent::new(k, KeyModifiers::CONTROL));
    update(&mut s, ctrl(KeyCode::Left));
    assert_eq!(s.plots.window.unwrap().x0, 0.125);
    // plain arrows still step snapshots
    let before = s.plots.snapshot;
    update(&mut s, code(KeyCode::Left));
    assert_eq!(s.plots.snapshot, before - 1);
    let c = update(&mut s, key('0'));
    assert!(s.plots.window.is_none());
    assert!(
        matches!(&c[..], [Command::LoadPlot { window: None, .. }]),
        "{c:?}"
    );
    assert!(update(&mut s, key('-')).is_empty(), "all of it already");
}

/// A line plot is decimated off the UI task: loading asks for it at the chart's width, zoom,
/// pan and resize ask again (sharing the points, not reloading the file), an answer for an
/// older request is dropped, and nothing is asked while the decimated lines are current.
#[test]
fn line_plots_are_decimated_in_the_backend_for_the_width_and_zoom_in_view() {
    use tandem::plot::load::PlotData;
    let mut s = idle();
    s.view = View::Plots;
    s.plots.plot = 2; // "energy and peak temperature", a line plot
    s.plots.run_id = Some("20261125-115900-abcd".into());
    s.plots.files = vec!["series.csv".into()];
    let c = update(&mut s, Msg::Resize(120, 40));
    assert!(c.is_empty(), "no data yet: {c:?}");
    let c = update(&mut s, key('R'));
    let want = tandem::views::plots::chart_width(120);
    assert!(
        c.iter().any(|c| matches!(c, Command::PlotFiles { .. })),
        "{c:?}"
    );
    let req = s.plots.req;
    let c = update(
        &mut s,
        Msg::PlotFiles {
            req,
            files: vec!["series.csv".into()],
        },
    );
    assert!(
        matches!(&c[..], [Command::LoadPlot { chart: Some(w), cells: None, .. }] if *w == want),
        "{c:?}"
    );
    let series = std::sync::Arc::new(
        tandem::plot::read::parse_series(
            std::path::Path::new("series.csv"),
            b"step,time,total_energy,max_temperature\n0,0,1,2\n1,1,2,3\n2,2,3,1\n",
        )
        .unwrap(),
    );
    let data = PlotData::Series {
        series: series.clone(),
        file: "series.csv".into(),
    };
    let p = s.project.as_ref().unwrap().clone();
    let req = s.plots.req;
    let lines = tandem::plot::prepare::lines_of(&p.plots[2], &data, None, want, req).unwrap();
    assert_eq!(lines.data.len(), 2);
    // an answer for an older request is dropped
    update(
        &mut s,
        Msg::PlotLines {
            req: req - 1,
            lines: Box::new(lines.clone()),
        },
    );
    assert!(s.plots.lines.is_none());
    update(
        &mut s,
        Msg::PlotLines {
            req,
            lines: Box::new(lines),
        },
    );
    update(
        &mut s,
        Msg::PlotLoaded {
            req,
            result: Ok(data),
        },
    );
    assert!(s.plots.lines.is_some());
    // zoom: the same points (one Arc), decimated again for the window
    let c = update(&mut s, key('+'));
    match &c[..] {
        [Command::DecimateLines {
            data: PlotData::Series { series: shared, .. },
            window: Some(w),
            chart,
            ..
        }] => {
            assert!(std::sync::Arc::ptr_eq(shared, &series));
            assert_eq!((w.zoom(), *chart), (2.0, want));
        }
        other => panic!("{other:?}"),
    }
    // a resize asks again for the new width
    let c = update(&mut s, Msg::Resize(90, 40));
    assert!(
        matches!(&c[..], [Command::DecimateLines { chart, .. }] if *chart == tandem::views::plots::chart_width(90)),
        "{c:?}"
    );
}

/// `C` on a line plot: one more older run overlaid each time (four runs at most), in the load
/// and the export; on a heatmap it says fields compare two; `c` goes back to two.
#[test]
fn capital_c_overlays_more_runs_on_a_line_plot() {
    let mut s = idle();
    s.view = View::Plots;
    s.plots.run_id = Some("20261125-115900-abcd".into());
    s.plots.files = vec!["series.csv".into()];
    s.plots.snapshot = 0;
    s.runs.truncate(1);
    let mut older = Vec::new();
    for (i, id) in [
        "20261124-000000-0001",
        "20261123-000000-0002",
        "20261122-000000-0003",
        "20261121-000000-0004",
    ]
    .iter()
    .enumerate()
    {
        let mut r = common::run(id, RunState::Succeeded, RunState::Succeeded);
        r.created = s.runs[0].created - chrono::Duration::hours(1 + i as i64);
        s.runs.push(r);
        older.push(id.to_string());
    }
    // a heatmap: two runs only
    s.plots.plot = 0;
    assert!(update(&mut s, key('C')).is_empty());
    assert!(s
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("fields compare two"));
    // a line plot: C starts comparing, then adds the next older runs
    s.plots.plot = 2;
    update(&mut s, key('C'));
    assert_eq!(s.plots.compare.as_deref(), Some(older[0].as_str()));
    update(&mut s, key('C'));
    let c = update(&mut s, key('C'));
    assert_eq!(s.plots.more, older[1..3]);
    assert!(
        matches!(&c[..], [Command::LoadPlot { compare: Some(c), more, .. }] if *c == older[0] && *more == older[1..3]),
        "{c:?}"
    );
    assert!(update(&mut s, key('C')).is_empty(), "four runs at most");
    assert!(s.status.as_ref().unwrap().text.contains("at most"));
    match &update(&mut s, key('e'))[..] {
        [Command::ExportPlot { more, out, .. }] => {
            assert_eq!(*more, older[1..3]);
            assert!(
                out.contains(&format!("-vs-{}-vs-{}-vs-{}", older[0], older[1], older[2])),
                "{out}"
            );
        }
        other => panic!("{other:?}"),
    }
    // c: back to comparing two
    update(&mut s, key('c'));
    assert!(s.plots.more.is_empty());
}

/// The fixture's run with its solve phase swept over three elements.
fn swept_idle() -> AppState {
    let mut s = idle();
    let e = |i: u32| {
        tandem::pipeline::run::ElementRun::new(
            &tandem::project::Element {
                index: i,
                params: vec![("alpha".into(), tandem::project::sweep::Value::Int(i as i64))],
            },
            format!("lake/out/e{i}/"),
        )
    };
    s.runs[0].phase_mut(PhaseId::Solve).unwrap().elements = vec![e(0), e(1), e(2)];
    s
}

#[test]
fn brackets_step_the_logs_through_a_sweeps_elements_and_back_to_all() {
    use tandem::app::logs::LogSource;
    let mut s = swept_idle();
    s.view = View::Logs;
    s.logs.run_id = Some(s.runs[0].id.clone());
    update(&mut s, key('}'));
    assert_eq!(s.logs.source, LogSource::Element(PhaseId::Solve, 0));
    update(&mut s, key('}'));
    update(&mut s, key('}'));
    assert_eq!(s.logs.source, LogSource::Element(PhaseId::Solve, 2));
    update(&mut s, key('}'));
    assert_eq!(s.logs.source, LogSource::All, "past the last: all again");
    update(&mut s, key('{'));
    assert_eq!(s.logs.source, LogSource::Element(PhaseId::Solve, 2));
    // a run without a sweep says so
    let mut s = idle();
    s.view = View::Logs;
    s.logs.run_id = Some(s.runs[0].id.clone());
    update(&mut s, key('}'));
    assert_eq!(s.logs.source, LogSource::All);
    assert!(s.status.unwrap().text.contains("no sweep"));
}

#[test]
fn brackets_step_the_plots_through_elements_holding_the_colour_range() {
    let mut s = swept_idle();
    s.view = View::Plots;
    s.plots.run_id = Some(s.runs[0].id.clone());
    let f = common::field(8);
    s.plots.data = Some(tandem::plot::load::PlotData::Field {
        stats: tandem::plot::FieldStats::of(&f),
        field: f,
        file: "f.npy".into(),
        about: None,
    });
    let c = update(&mut s, key('}'));
    assert!(
        matches!(
            &c[..],
            [Command::PlotFiles {
                element: Some(0),
                ..
            }]
        ),
        "{c:?}"
    );
    assert_eq!(s.plots.element, Some(0));
    assert!(s.plots.hold.is_some(), "one colour scale across elements");
    assert!(s
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("element 0: alpha=0"));
    update(&mut s, key('{'));
    assert_eq!(s.plots.element, None, "before the first: all of them");
    // the element goes with the load of a snapshot
    s.plots.element = Some(1);
    s.plots.files = vec!["snapshots/f.npy".into()];
    let req = s.plots.req;
    let c = update(
        &mut s,
        Msg::PlotFiles {
            req,
            files: vec!["snapshots/f.npy".into()],
        },
    );
    assert!(
        c.iter().any(|c| matches!(
            c,
            Command::LoadPlot {
                element: Some(1),
                ..
            }
        )),
        "{c:?}"
    );
}

#[test]
fn space_marks_two_runs_and_equals_compares_them_older_first() {
    let mut s = idle();
    s.runs.push(common::run(
        "20261124-090000-beef",
        RunState::Succeeded,
        RunState::Failed,
    ));
    s.view = View::Runs;
    s.runs_view.selected = 0;
    update(&mut s, key(' '));
    // one marked: = compares it with the selected one; the same run alone is not a pair
    assert!(update(&mut s, key('=')).is_empty());
    let other = s
        .visible_runs()
        .iter()
        .position(|r| r.id == "20261124-090000-beef")
        .unwrap();
    s.runs_view.selected = other;
    update(&mut s, key(' '));
    assert_eq!(s.runs_view.marked.len(), 2);
    let c = update(&mut s, key('='));
    let first = s.visible_runs()[0].id.clone();
    let (a, b) = if first.as_str() < "20261124-090000-beef" {
        (first, "20261124-090000-beef".to_string())
    } else {
        ("20261124-090000-beef".to_string(), first)
    };
    assert_eq!(c, vec![Command::DiffRuns { a, b }]);
    // the answer replaces the list; Esc goes back to it; v opens the plots compared
    let d = tandem::pipeline::diff::RunDiff {
        a: "20261124-090000-beef".into(),
        b: "20261125-115900-abcd".into(),
        project: tandem::pipeline::diff::ProjectDiff::Same,
        runs: vec![],
        phases: vec![],
        series: vec![],
    };
    update(&mut s, Msg::RunsDiffed(Ok(Box::new(d.clone()))));
    assert!(s.runs_view.diff.is_some());
    update(&mut s, code(KeyCode::Esc));
    assert!(s.runs_view.diff.is_none());
    assert_eq!(s.view, View::Runs);
    update(&mut s, Msg::RunsDiffed(Ok(Box::new(d))));
    let c = update(&mut s, key('v'));
    assert_eq!(s.view, View::Plots);
    assert_eq!(s.plots.run_id.as_deref(), Some("20261125-115900-abcd"));
    assert_eq!(s.plots.compare.as_deref(), Some("20261124-090000-beef"));
    assert!(
        c.iter().any(|c| matches!(c, Command::PlotFiles { .. })),
        "{c:?}"
    );
}

#[test]
fn capital_r_asks_which_phases_an_earlier_run_stands_for_then_runs_reusing_them() {
    use tandem::pipeline::reuse::Verdict;
    let mut s = idle();
    s.view = View::Pipeline;
    assert_eq!(update(&mut s, key('R')), vec![Command::PlanReuse]);
    update(
        &mut s,
        Msg::ReusePlan(vec![
            (
                PhaseId::Preprocess,
                Verdict::Reuse {
                    run: "20261124-090000-beef".into(),
                    output: "lake/runs/x/prepared/".into(),
                },
            ),
            (
                PhaseId::Solve,
                Verdict::Run {
                    why: "since 20261124-090000-beef: phases.solve.local.command[8] \"224\" → \"160\"".into(),
                },
            ),
        ]),
    );
    let Some(Popup::Confirm { text, .. }) = &s.popup else {
        panic!("{:?}", s.popup)
    };
    assert!(
        text.contains("preprocess: reuse run 20261124-090000-beef"),
        "{text}"
    );
    assert!(text.contains("solve: runs — since"), "{text}");
    assert_eq!(
        update(&mut s, key('y')),
        vec![Command::StartRun {
            phases: vec![PhaseId::Preprocess, PhaseId::Solve],
            reuse: true
        }]
    );
    // nothing to reuse: no question, the reasons in the status line
    update(
        &mut s,
        Msg::ReusePlan(vec![(
            PhaseId::Preprocess,
            Verdict::Run {
                why: "no earlier run of preprocess succeeded".into(),
            },
        )]),
    );
    assert!(s.popup.is_none());
    assert!(s.status.unwrap().text.contains("nothing to reuse"));
}
