//! Pods (sandbox::Pod) with the real grader binary as their init: a student process can
//! signal only its own pod, cannot hang a spawn by stopping it before exec, and leaves no IPC
//! object behind. Root only (pods run nothing without root).

mod support;

use std::time::{Duration, Instant};

use grader::privilege;
use grader::sandbox::{self, Ending, Limits, Pod, Spec, Stdin, View};

fn setup() -> grader::sandbox::Identity {
    // SAFETY: set before any pod is made, in every test the same value.
    unsafe { std::env::set_var(sandbox::pod::POD_PROGRAM_VAR, env!("CARGO_BIN_EXE_grader")) };
    privilege::lookup("nobody").expect("nobody")
}

fn spec(identity: &grader::sandbox::Identity, script: &str, deadline: Duration) -> Spec {
    Spec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        cwd: "/".into(),
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        stdin: Stdin::Null,
        identity: Some(identity.clone()),
        limits: Limits {
            cpu_seconds: 10,
            address_space: None,
            file_size: 1 << 20,
            processes: 64,
            open_files: 256,
        },
        deadline,
        output_cap: 1 << 16,
        isolate_network: true,
        ready_fd: None,
    }
}

fn out(outcome: &sandbox::Outcome) -> String {
    String::from_utf8_lossy(&outcome.output.stdout).into_owned()
        + &String::from_utf8_lossy(&outcome.output.stderr)
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root: pods run nothing without root"
)]
fn pod_runs_a_process_as_the_user_in_its_own_namespaces() {
    let nobody = setup();
    let pod = Pod::new(View::default(), true).expect("pod");
    let outcome = pod
        .spawn(spec(
            &nobody,
            "id -u; echo pid $$; ls /proc | grep -c '^[0-9]'; cat /proc/net/dev | grep -c :; hostname",
            Duration::from_secs(10),
        ))
        .expect("spawn")
        .finish();
    let text = out(&outcome);
    assert_eq!(outcome.ending, Ending::Exited(0), "{text}");
    assert!(text.starts_with("65534\n"), "{text}");
    if pod.namespaced() {
        // The shell is pid 2 (the init is 1); it sees only its pod; only loopback.
        assert!(text.contains("pid 2\n"), "{text}");
        assert!(text.contains("ipc-lab-pod"), "{text}");
    }
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root: pods run nothing without root"
)]
fn pod_a_sigstop_to_every_process_of_the_user_hangs_nothing() {
    let nobody = setup();
    let pod = Pod::new(View::default(), true).expect("pod");
    // Stops every process of the user it may signal, in a loop, for 3 s.
    let stopper = pod
        .spawn(spec(
            &nobody,
            "python3 -c 'import os,signal,time\nt=time.time()\nwhile time.time()-t<3:\n  try: os.kill(-1, signal.SIGSTOP)\n  except Exception: pass\n'",
            Duration::from_secs(6),
        ))
        .expect("spawn stopper");
    let started = Instant::now();
    let mut spawned = 0;
    for _ in 0..20 {
        if let Ok(run) = pod.spawn(spec(&nobody, "true", Duration::from_secs(2))) {
            spawned += 1;
            let _ = run.finish();
        }
    }
    // Every spawn and wait is bounded: 20 of them cannot take more than their bounds.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let _ = stopper.finish();
    eprintln!("spawned {spawned} of 20 while being stopped");
    // And the grader's own thread was never stopped: a plain spawn right after works.
    let after = pod
        .spawn(spec(&nobody, "echo fine", Duration::from_secs(5)))
        .expect("spawn")
        .finish();
    assert!(out(&after).contains("fine"));
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root: pods run nothing without root"
)]
fn pod_ipc_objects_die_with_the_pod() {
    let nobody = setup();
    let pod = Pod::new(View::default(), true).expect("pod");
    if !pod.namespaced() {
        eprintln!("SKIPPED: no namespaces here");
        return;
    }
    let outcome = pod
        .spawn(spec(
            &nobody,
            "python3 -c 'import sysv_ipc' 2>/dev/null; ipcmk -M 4096 && ipcmk -Q && ipcmk -S 1; ipcs | grep -c 65534 || ipcs",
            Duration::from_secs(10),
        ))
        .expect("spawn")
        .finish();
    eprintln!("{}", out(&outcome));
    pod.kill();
    let residue = sandbox::residue_of_user(&nobody);
    assert_eq!(residue.ipc_objects(), 0, "{residue:?}");
}

#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root: pods run nothing without root"
)]
fn pod_many_pods_at_once_all_start() {
    let nobody = setup();
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..10 {
                    let view = View {
                        private_tmp: true,
                        hide: vec!["/work".into()],
                        writable: vec![],
                        read_only: vec![],
                    };
                    match Pod::new(view, true) {
                        Ok(pod) => match pod.spawn(spec(&nobody, "true", Duration::from_secs(5))) {
                            Ok(run) => {
                                let _ = run.finish();
                            }
                            Err(e) => failures.lock().unwrap().push(format!("spawn: {e}")),
                        },
                        Err(e) => failures.lock().unwrap().push(format!("pod: {e}")),
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{failures:?}");
}

/// Issue 11, classes 2 and 4: what one pod plants in /tmp no other pod (and not the host) sees,
/// and a pod sees nothing of the directories it is told to hide but its own.
#[test]
#[cfg_attr(
    not(ipc_lab_root),
    ignore = "needs root: pods run nothing without root"
)]
fn pod_views_are_private_and_hide_classmates() {
    let nobody = setup();
    if !sandbox::pod::namespaces_available() {
        eprintln!("SKIPPED: no namespaces here");
        return;
    }
    let class = tempfile::Builder::new()
        .prefix("pod-class-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    let root = std::fs::canonicalize(class.path()).expect("canonical");
    for student in ["alice", "bob"] {
        std::fs::create_dir(root.join(student)).expect("mkdir");
        std::fs::write(root.join(student).join("answer.txt"), student).expect("write");
    }
    use std::os::unix::fs::PermissionsExt;
    for dir in [root.clone(), root.join("alice"), root.join("bob")] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    let view_of = |me: &str| View {
        private_tmp: true,
        hide: vec![root.clone()],
        writable: vec![root.join(me)],
        read_only: vec![],
    };
    let alice = Pod::new(view_of("alice"), true).expect("pod");
    let bob = Pod::new(view_of("bob"), true).expect("pod");
    let planted = alice
        .spawn(spec(
            &nobody,
            "mkdir -p /tmp/.cargo && echo '[build]' > /tmp/.cargo/config.toml && echo planted",
            Duration::from_secs(5),
        ))
        .expect("spawn")
        .finish();
    assert!(out(&planted).contains("planted"), "{}", out(&planted));
    let look = format!(
        "cat /tmp/.cargo/config.toml 2>&1; ls {0}; cat {0}/alice/answer.txt 2>&1; cat {0}/bob/answer.txt; echo; ls /proc | grep -c '^[0-9]'",
        root.display()
    );
    let seen = bob
        .spawn(spec(&nobody, &look, Duration::from_secs(5)))
        .expect("spawn")
        .finish();
    let text = out(&seen);
    assert!(
        text.contains("No such file"),
        "bob sees alice's /tmp: {text}"
    );
    assert!(!text.contains("alice\n"), "bob lists alice: {text}");
    assert!(
        !text.contains("\nalice"),
        "bob reads alice's answer: {text}"
    );
    assert!(text.contains("bob"), "bob sees his own: {text}");
    assert!(
        !std::path::Path::new("/tmp/.cargo/config.toml").exists()
            || std::fs::symlink_metadata("/tmp/.cargo")
                .map(|m| std::os::unix::fs::MetadataExt::uid(&m) != nobody.uid)
                .unwrap_or(true),
        "the plant reached the host's /tmp"
    );
}
