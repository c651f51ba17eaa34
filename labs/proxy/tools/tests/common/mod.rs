//! Test support: builds the submission-shaped proxies (reference, starter, broken variants) and
//! runs the scenario checks of labs/proxy/lab.toml the way the grading engine's contract says
//! (start, wait, expect, stop), as the current user. Every wait has a deadline; waits poll the
//! condition they wait for (a listening socket, an exit), never a fixed delay.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// labs/proxy
pub fn lab_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("labs/proxy")
        .to_owned()
}

/// The directory holding the lab's tool binaries (the engine's {tools}).
pub fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_proxy-check"))
        .parent()
        .expect("bin dir")
        .to_owned()
}

fn work_dir() -> PathBuf {
    let dir = tools_dir().join("proxy-lab-tests");
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Variant {
    pub name: String,
    pub flaw: String,
    pub file: String,
    pub find: String,
    pub replace: String,
    pub loses: Vec<String>,
    pub section: String,
}

#[derive(Debug, serde::Deserialize)]
struct Variants {
    variant: Vec<Variant>,
}

pub fn variants() -> Vec<Variant> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/variants.toml"))
            .expect("variants.toml");
    toml::from_str::<Variants>(&text)
        .expect("variants.toml parses")
        .variant
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "target" || name == "Cargo.toml" || name == "Cargo.lock" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&src, &dst);
        } else {
            let new = std::fs::read(&src).expect("read");
            if std::fs::read(&dst).ok().as_deref() != Some(&new[..]) {
                std::fs::write(&dst, new).expect("write");
            }
        }
    }
}

/// Builds the copy in `dir` (see `copy_of`).
fn cargo_build(dir: &Path, name: &str) -> PathBuf {
    let target = work_dir().join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new("nice")
        .args([
            "-n",
            "10",
            &cargo,
            "build",
            "--release",
            "--offline",
            "--quiet",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("release").join(format!("proxy-lab-{name}"))
}

/// Copies a submission to the work dir under its own package name, so the shared target
/// directory keeps one binary per copy (a fresh build would not relink a shared `proxy`).
/// Files are only rewritten when they changed, so cargo rebuilds only what changed.
fn copy_of(from: &Path, name: &str) -> PathBuf {
    let dir = work_dir().join("src").join(name);
    copy_tree(from, &dir);
    let text = std::fs::read_to_string(from.join("Cargo.toml")).expect("Cargo.toml");
    assert_eq!(
        text.matches("name = \"proxy\"").count(),
        1,
        "{name}: Cargo.toml names the package proxy"
    );
    let renamed = text.replace("name = \"proxy\"", &format!("name = \"proxy-lab-{name}\""));
    if std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .as_deref()
        != Some(&renamed)
    {
        std::fs::write(dir.join("Cargo.toml"), renamed).expect("write Cargo.toml");
    }
    if !dir.join("Cargo.lock").exists() {
        std::fs::copy(from.join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy Cargo.lock");
    }
    dir
}

/// The built binary of "reference", "starter" or a variant's name, built the first time it is
/// asked for (so a run that skips the variants never builds them), one build at a time.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let path = if name == "reference" || name == "starter" {
        let dir = copy_of(&lab_dir().join(name), name);
        cargo_build(&dir, name)
    } else {
        let v = variants()
            .into_iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no variant {name} in variants.toml"));
        let dir = copy_of(&lab_dir().join("reference"), &v.name);
        let path = dir.join(&v.file);
        let text = std::fs::read_to_string(lab_dir().join("reference").join(&v.file))
            .expect("variant file");
        assert_eq!(
            text.matches(&v.find).count(),
            1,
            "variant {}: `find` must occur once in {}",
            v.name,
            v.file
        );
        let patched = text.replacen(&v.find, &v.replace, 1);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(&patched) {
            std::fs::write(&path, patched).expect("write variant");
        }
        cargo_build(&dir, &v.name)
    };
    built.insert(name.to_owned(), path.clone());
    path
}

/// One check of lab.toml.
#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub points: i64,
    pub kind: String,
    pub hint: String,
    pub timeout: Duration,
    pub steps: Vec<toml::Table>,
}

pub fn checks() -> Vec<Check> {
    let text = std::fs::read_to_string(lab_dir().join("lab.toml")).expect("lab.toml");
    let lab: toml::Table = toml::from_str(&text).expect("lab.toml parses");
    lab["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            let c = c.as_table().expect("check table");
            let s = |k: &str| {
                c.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            Check {
                id: s("id"),
                points: c["points"].as_integer().expect("points"),
                kind: s("kind"),
                hint: s("hint"),
                timeout: c
                    .get("timeout")
                    .and_then(|v| v.as_str())
                    .map_or(Duration::from_secs(30), duration),
                steps: c
                    .get("steps")
                    .and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .map(|t| t.as_table().expect("step").clone())
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn duration(text: &str) -> Duration {
    if let Some(ms) = text.strip_suffix("ms") {
        Duration::from_millis(ms.parse().expect("ms"))
    } else {
        Duration::from_secs(
            text.strip_suffix('s')
                .expect("a duration ends in s or ms")
                .parse()
                .expect("secs"),
        )
    }
}

struct Proc {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    status: Option<std::process::ExitStatus>,
}

impl Proc {
    fn poll_exit(&mut self) -> Option<std::process::ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }
    fn output(&self) -> String {
        self.stdout.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

fn listening(path: &str) -> bool {
    std::fs::read_to_string("/proc/net/unix").is_ok_and(|t| {
        t.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 8 && f[3] == "00010000" && f[7] == path
        })
    })
}

fn until(deadline: Instant, mut cond: impl FnMut() -> bool) -> bool {
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Outcome of one check: Ok, or Err(the step that failed and what was seen).
pub fn run_check(check: &Check, proxy: &Path, seed: u64) -> Result<(), String> {
    let run = tempfile::tempdir().expect("run dir");
    let run_path = run.path().to_str().expect("utf-8 path").to_owned();
    let tools = tools_dir().to_str().expect("utf-8").to_owned();
    let expand = |s: &str| {
        s.replace("{run}", &run_path)
            .replace("{tools}", &tools)
            .replace("{seed}", &seed.to_string())
    };
    let strings = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .map(|x| expand(x.as_str().expect("string")))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut procs: BTreeMap<String, Proc> = BTreeMap::new();
    let check_deadline = Instant::now() + check.timeout;
    let result = (|| {
        for (i, step) in check.steps.iter().enumerate() {
            let n = i + 1;
            let step_timeout = step
                .get("timeout")
                .and_then(|v| v.as_str())
                .map_or(Duration::from_secs(5), duration);
            if let Some(name) = step.get("start").and_then(|v| v.as_str()) {
                let mut argv = if step.contains_key("command") {
                    strings(step.get("command"))
                } else {
                    let program = step.get("program").and_then(|v| v.as_str()).unwrap_or(name);
                    assert_eq!(program, "proxy", "unknown program");
                    vec![proxy.to_str().expect("utf-8").to_owned()]
                };
                argv.extend(strings(step.get("args")));
                let mut child = Command::new(&argv[0])
                    .args(&argv[1..])
                    .current_dir(run.path())
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| format!("step {n} (start {name}): {e}"))?;
                let lines = Arc::new(Mutex::new(Vec::new()));
                if let Some(out) = child.stdout.take() {
                    let lines = Arc::clone(&lines);
                    std::thread::spawn(move || {
                        for line in BufReader::new(out).lines().map_while(Result::ok) {
                            if let Ok(mut l) = lines.lock() {
                                l.push(line);
                            }
                        }
                    });
                }
                procs.insert(
                    name.to_owned(),
                    Proc {
                        child,
                        stdout: lines,
                        status: None,
                    },
                );
            } else if let Some(name) = step.get("wait").and_then(|v| v.as_str()) {
                let deadline = Instant::now() + step_timeout;
                let p = procs.get_mut(name).expect("wait: started process");
                let ok = if let Some(path) = step.get("listening").and_then(|v| v.as_str()) {
                    let path = expand(path);
                    until(deadline, || listening(&path) || p.poll_exit().is_some())
                        && listening(&path)
                } else if let Some(path) = step.get("path").and_then(|v| v.as_str()) {
                    let path = expand(path);
                    until(deadline, || Path::new(&path).exists())
                } else if step.get("exit").is_some() {
                    until(deadline, || p.poll_exit().is_some())
                } else {
                    panic!("wait step {n}: unsupported condition");
                };
                if !ok {
                    return Err(format!(
                        "step {n} (wait {name}): not reached; stdout: {}",
                        p.output()
                    ));
                }
            } else if let Some(name) = step.get("expect").and_then(|v| v.as_str()) {
                let p = procs.get_mut(name).expect("expect: started process");
                if !until(check_deadline, || p.poll_exit().is_some()) {
                    return Err(format!(
                        "step {n} (expect {name}): still running at the check's deadline"
                    ));
                }
                // Let the reader thread take the last lines.
                until(Instant::now() + Duration::from_millis(200), || {
                    Arc::strong_count(&p.stdout) == 1
                });
                let status = p.status.expect("exited");
                let wanted = step.get("exit").and_then(|v| v.as_integer());
                if let Some(code) = wanted.filter(|c| status.code() != Some(*c as i32)) {
                    return Err(format!(
                        "step {n} (expect {name}): exit {status}, wanted {code}: {}",
                        p.output()
                    ));
                }
            } else if let Some(name) = step.get("stop").and_then(|v| v.as_str()) {
                let p = procs.get_mut(name).expect("stop: started process");
                if p.poll_exit().is_none() {
                    let pid = nix::unistd::Pid::from_raw(p.child.id() as i32);
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                    if !until(Instant::now() + Duration::from_secs(2), || {
                        p.poll_exit().is_some()
                    }) {
                        let _ = p.child.kill();
                        let _ = p.child.wait();
                    }
                }
            } else {
                panic!("step {n}: unsupported action {step:?}");
            }
        }
        Ok(())
    })();
    for p in procs.values_mut() {
        if p.poll_exit().is_none() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
    result
}

/// Runs every scenario check; returns (id, points, outcome).
pub fn grade(proxy: &Path, seed: u64) -> Vec<(String, i64, Result<(), String>)> {
    checks()
        .into_iter()
        .filter(|c| c.kind == "scenario")
        .map(|c| {
            let outcome = run_check(&c, proxy, seed);
            (c.id.clone(), c.points, outcome)
        })
        .collect()
}
