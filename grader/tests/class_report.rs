//! `grader batch` writes `report.html`, the class report, and a real browser shows it: the real
//! batch binary grades 100 submissions (through a stand-in worker that replays results prepared
//! here, so the test needs neither root nor 25 s of real grading), then headless Chromium
//! renders the page. The screenshot must have ink where the SVG charts are, the browser must log
//! nothing on its console (the page has no script, and hostile student names that got through
//! unescaped would run or be refused by its Content-Security-Policy, both of which log), and the
//! page's numbers and links must match the class.
//!
//! Needs `chromium` on PATH: without it the test is ignored (`ipc_lab_browser`, see build.rs),
//! unless `CI` or `IPC_LAB_REQUIRE_BROWSER` is set, where it fails instead.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const STUDENTS: usize = 100;
const ERRORS: [usize; 3] = [7, 42, 77];
const INFRA: [usize; 2] = [13, 88];
const SCRIPT_NAME: &str = "<script>console.error(\"name ran\")</script>";
const IMG_NAME: &str = "\"><img src=x onerror=console.error(1)>";
const HOSTILE_HINT: &str = "<script>console.error(\"hint ran\")</script> & 'quotes'";
const WIDTH: u32 = 1280;
/// Longest any one browser run may take.
const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

/// A stand-in for `grader batch --worker`: replays what the test prepared in the submission
/// directory (`results.json`, `report.txt`, `outcome.json`). Without an outcome it fails the way
/// a crashed grader does, which the batch must report as `infra`.
const FAKE_WORKER: &str = r#"#!/bin/sh
while [ "$#" -gt 0 ]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --) dir="$2"; break ;;
    *) shift ;;
  esac
done
if [ ! -f "$dir/outcome.json" ]; then
  echo "fake worker: crashed on purpose" >&2
  exit 3
fi
cp "$dir/results.json" "$stage.json" || exit 4
if [ -f "$dir/report.txt" ]; then cp "$dir/report.txt" "$stage.txt" || exit 4; fi
cat "$dir/outcome.json"
"#;

/// One check of the built-in lab, as its lab file defines it.
#[derive(Debug, Clone)]
struct LabCheck {
    id: String,
    part: String,
    name: String,
    points: f64,
    hint: Option<String>,
}

fn lab_checks() -> Vec<LabCheck> {
    let text = std::fs::read_to_string(support::repo_root().join("labs/ipc/lab.toml"))
        .expect("read labs/ipc/lab.toml");
    let lab: toml::Table = toml::from_str(&text).expect("lab.toml is TOML");
    let get = |t: &toml::Value, key: &str| t.get(key).and_then(|v| v.as_str()).map(String::from);
    let parts: HashMap<String, String> = lab["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| (get(p, "id").expect("id"), get(p, "title").expect("title")))
        .collect();
    lab["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            let part = get(c, "part").expect("part");
            let points = c
                .get("points")
                .and_then(|p| p.as_float().or_else(|| p.as_integer().map(|i| i as f64)));
            LabCheck {
                id: get(c, "id").expect("id"),
                name: format!("{} - {}", parts[&part], get(c, "title").expect("title")),
                part,
                points: points.expect("points"),
                hint: get(c, "hint"),
            }
        })
        .collect()
}

/// Deterministic pseudo-random numbers in [0, 1) (xorshift), so every run grades the same class.
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn name_of(i: usize) -> String {
    match i {
        3 => SCRIPT_NAME.to_string(),
        5 => IMG_NAME.to_string(),
        9 => "Doe, Jane".to_string(),
        11 => "o'brien & <b>sons</b>".to_string(),
        _ => format!("s{i:03}"),
    }
}

/// What the class is expected to show.
#[derive(Debug, Default)]
struct Expected {
    /// Check id -> (passed, seen).
    passes: BTreeMap<String, (usize, usize)>,
    /// Hint -> students who got it.
    hints: BTreeMap<String, usize>,
    graded: usize,
}

/// Writes the 100 submissions with their prepared results and the roster naming them.
fn prepare_class(root: &Path, checks: &[LabCheck]) -> Expected {
    let max: f64 = checks.iter().map(|c| c.points).sum();
    let mut dice = Dice(0x5eed_1234_abcd_0042);
    let mut expected = Expected::default();
    let mut roster = String::from("student,directory\n");
    for i in 0..STUDENTS {
        let dir = root.join("subs").join(format!("sub-{i:03}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let name = name_of(i);
        roster.push_str(&format!(
            "\"{}\",{}\n",
            name.replace('"', "\"\""),
            dir.display()
        ));
        if INFRA.contains(&i) {
            continue;
        }
        if ERRORS.contains(&i) {
            let why = format!(
                "could not grade this submission: the submission sub-{i:03} holds more than 200 MB\n  fix: remove build output"
            );
            write_json(
                &dir.join("results.json"),
                &json!({
                    "score": 0.0, "max_score": max, "output": why, "tests": [],
                    "extra_data": {"grader_version": "test", "lab_digest": "0123456789abcdef", "batch_status": "error"},
                }),
            );
            write_json(
                &dir.join("outcome.json"),
                &json!({
                    "status": "error", "score": null, "max": null, "parts": [],
                    "grader_version": "test", "lab_digest": "0123456789abcdef", "detail": why,
                }),
            );
            continue;
        }
        expected.graded += 1;
        // Each check has its own difficulty; a whole class of strong and weak students.
        let skill = dice.roll();
        let mut tests = Vec::new();
        let mut parts: BTreeMap<String, f64> = BTreeMap::new();
        let mut score = 0.0;
        let mut hints_given = std::collections::BTreeSet::new();
        for (k, check) in checks.iter().enumerate() {
            let difficulty = (k as f64 * 0.37).fract();
            let passed = dice.roll() * 0.6 + skill * 0.7 > difficulty;
            let points = if passed { check.points } else { 0.0 };
            score += points;
            *parts.entry(check.part.clone()).or_insert(0.0) += points;
            let entry = expected.passes.entry(check.id.clone()).or_insert((0, 0));
            entry.0 += usize::from(passed);
            entry.1 += 1;
            let hint = if i % 4 == 1 && !passed {
                Some(HOSTILE_HINT.to_string())
            } else {
                check.hint.clone()
            };
            let output = match (&hint, passed) {
                (_, true) => "passed".to_string(),
                (Some(hint), false) => {
                    hints_given.insert(hint.clone());
                    format!(
                        "the check failed\nexpected:\n  |hint: not a hint\nhint: {}",
                        hint.replace('\n', "\n  ")
                    )
                }
                (None, false) => "the check failed".to_string(),
            };
            tests.push(json!({
                "name": check.name, "score": points, "max_score": check.points,
                "output": output, "tags": [check.part],
                "extra_data": {
                    "id": check.id,
                    "outcome": if passed { "passed" } else { "failed" },
                    "informational": check.points == 0.0,
                },
            }));
        }
        for hint in hints_given {
            *expected.hints.entry(hint).or_insert(0) += 1;
        }
        write_json(
            &dir.join("results.json"),
            &json!({
                "score": score, "max_score": max, "tests": tests,
                "extra_data": {"grader_version": "test", "lab_digest": "0123456789abcdef"},
            }),
        );
        std::fs::write(dir.join("report.txt"), format!("GRADE: {score}/{max}\n")).expect("write");
        let parts: Vec<_> = parts
            .iter()
            .map(|(id, score)| json!({"id": id, "score": score, "max": 0.0}))
            .collect();
        write_json(
            &dir.join("outcome.json"),
            &json!({
                "status": "graded", "score": score, "max": max, "parts": parts,
                "grader_version": "test", "lab_digest": "0123456789abcdef",
                "detail": format!("GRADE: {score}/{max}"),
            }),
        );
    }
    std::fs::write(root.join("roster.csv"), roster).expect("write roster");
    let worker = root.join("fake-worker.sh");
    std::fs::write(&worker, FAKE_WORKER).expect("write worker");
    std::fs::set_permissions(&worker, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    expected
}

fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::write(path, value.to_string()).expect("write JSON");
}

/// A fresh directory for this test under cargo's temporary directory for tests. Kept after the
/// run, so the screenshot can be looked at; the next run starts it again.
fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("class-report");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// Runs `cmd` to its end or until `deadline`, then kills its whole process group.
fn run_with_deadline(mut cmd: Command, deadline: Duration) -> Output {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().expect("start the command");
    let pid = i32::try_from(child.id()).expect("pid");
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(deadline) {
        Ok(output) => output.expect("wait for the command"),
        Err(_) => {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("{cmd:?} took longer than {deadline:?} and was killed");
        }
    };
    let _ = waiter.join();
    output
}

/// Headless Chromium on `page` with `extra` flags; its console goes to stderr.
fn chromium(work: &Path, page: &Path, height: u32, extra: &[String]) -> Output {
    let found = Command::new("sh")
        .args(["-c", "command -v chromium"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "chromium is not on PATH, and CI (or IPC_LAB_REQUIRE_BROWSER) says this test must run: install it with `apt-get install -y --no-install-recommends chromium` (.ci/run does)"
    );
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!(
        "--user-data-dir={}",
        work.join("chromium-profile").display()
    ))
    .arg(format!("--window-size={WIDTH},{height}"))
    .args(extra)
    .arg(format!("file://{}", page.display()));
    let output = run_with_deadline(cmd, BROWSER_DEADLINE);
    assert!(
        output.status.success(),
        "chromium failed on {}: {}",
        page.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The lines Chromium logs for the page's console (messages, errors, refused scripts).
fn console_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect()
}

/// Where each `<svg>` of `page` is (x, y, width, height in CSS pixels) and how tall the page is,
/// measured by the browser on a copy of the page with a script added at its end (and without
/// the policy that would refuse it); the copy lays out exactly as the page does above that.
fn svg_boxes(work: &Path, page: &Path) -> (Vec<[u32; 4]>, u32) {
    let html = std::fs::read_to_string(page).expect("read the page");
    let policy_start = html
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .expect("a CSP");
    let policy_end = policy_start + html[policy_start..].find('>').expect("end of meta") + 1;
    let measuring = format!(
        "{}{}",
        &html[..policy_start],
        html[policy_end..].replace(
            "</body>",
            "<script>var b=[];document.querySelectorAll('svg').forEach(function(s){var r=s.getBoundingClientRect();b.push([r.left+scrollX,r.top+scrollY,r.width,r.height].map(Math.round).join(','))});var h=document.documentElement.scrollHeight;var p=document.createElement('pre');p.id='boxes';p.textContent='BOXES '+b.join(';')+' HEIGHT '+h+' END';document.body.appendChild(p);</script></body>"
        )
    );
    let copy = work.join("measure.html");
    std::fs::write(&copy, measuring).expect("write the measuring copy");
    let dom = chromium(work, &copy, 2000, &["--dump-dom".to_string()]);
    let text = String::from_utf8_lossy(&dom.stdout);
    let marker = "<pre id=\"boxes\">BOXES ";
    let start = text.find(marker).expect("the measuring script ran") + marker.len();
    let end = text[start..].find(" END").expect("end") + start;
    let (boxes, height) = text[start..end].split_once(" HEIGHT ").expect("height");
    let boxes = boxes
        .split(';')
        .map(|b| {
            let n: Vec<u32> = b.split(',').map(|v| v.parse().expect("number")).collect();
            [n[0], n[1], n[2], n[3]]
        })
        .collect();
    (boxes, height.parse().expect("height"))
}

/// An RGB screenshot.
struct Screenshot {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Screenshot {
    fn read(path: &Path) -> Screenshot {
        let file = std::fs::File::open(path).expect("open the screenshot");
        let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("decode the PNG");
        let channels = info.color_type.samples();
        let rgb = buf[..info.buffer_size()]
            .chunks(channels)
            .flat_map(|px| match channels {
                1 | 2 => [px[0], px[0], px[0]],
                _ => [px[0], px[1], px[2]],
            })
            .collect();
        Screenshot {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Share of the box's pixels that are not white, and how many different colours it holds.
    fn ink(&self, [x, y, w, h]: [u32; 4]) -> (f64, usize) {
        let (mut inked, mut total) = (0usize, 0usize);
        let mut colours = std::collections::HashSet::new();
        for py in y..(y + h).min(self.height) {
            for px in x..(x + w).min(self.width) {
                let p = self.pixel(px, py);
                total += 1;
                if p.iter().any(|&c| c < 240) {
                    inked += 1;
                    colours.insert(p);
                }
            }
        }
        (inked as f64 / total.max(1) as f64, colours.len())
    }
}

/// Decodes `%XX` in a relative link.
fn percent_decode(href: &str) -> String {
    let bytes = href.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

#[test]
#[cfg_attr(
    not(ipc_lab_browser),
    ignore = "needs chromium on PATH (apt-get install chromium; CI installs it)"
)]
fn class_report_of_100_submissions_renders_with_its_charts_in_chromium() {
    let started = Instant::now();
    let work = work_dir();
    let checks = lab_checks();
    let expected = prepare_class(&work, &checks);
    let out = work.join("out");

    let batch_started = Instant::now();
    let output = support::grader()
        .arg("batch")
        .arg("--roster")
        .arg(work.join("roster.csv"))
        .arg("--out")
        .arg(&out)
        .args(["--jobs", "4"])
        .env("GRADER_BATCH_WORKER", work.join("fake-worker.sh"))
        .output()
        .expect("run grader batch");
    let batch_took = batch_started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "infra rows make it 2:\n{stdout}\n{stderr}"
    );
    let report = out.join("report.html");
    assert!(
        stdout.contains(&format!("batch: class report: {}", report.display())),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&report).expect("report.html is written");

    // Self-contained and inert: no script, no element a hostile name could have smuggled in,
    // nothing fetched from anywhere.
    let without_namespace = html.replace("http://www.w3.org/2000/svg", "");
    for banned in [
        "<script", "<img", "<link", "<iframe", "<object", "<embed", "url(", "http://", "https://",
    ] {
        assert!(
            !without_namespace.contains(banned),
            "report.html contains {banned}"
        );
    }
    assert!(html.contains("&lt;script&gt;console.error(&quot;name ran&quot;)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=console.error(1)&gt;"));
    assert!(html.contains(
        "&lt;script&gt;console.error(&quot;hint ran&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;"
    ));
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "the histogram and the pass rates"
    );

    // Every graded student has a link to their own report, and every link leads to a file.
    let hrefs: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').expect("end of href")])
        .collect();
    let reports = hrefs.iter().filter(|h| h.starts_with("reports/")).count();
    assert_eq!(
        reports, expected.graded,
        "one terminal report link per graded student"
    );
    for href in &hrefs {
        assert!(
            !href.contains(['<', '>', '"', '\'', ' ', '#', '?']),
            "{href}"
        );
        let target = out.join(percent_decode(href));
        assert!(
            target.is_file(),
            "{href} leads nowhere ({})",
            target.display()
        );
    }

    // Pass rates: the check with the lowest rate first, information-only checks last.
    let position = |id: &str| {
        html.find(&format!("[{id}]:"))
            .unwrap_or_else(|| panic!("check {id} is not in the pass rates"))
    };
    let informational: Vec<&str> = checks
        .iter()
        .filter(|c| c.points == 0.0)
        .map(|c| c.id.as_str())
        .collect();
    let mut order: Vec<(&String, f64)> = expected
        .passes
        .iter()
        .filter(|(id, _)| !informational.contains(&id.as_str()))
        .map(|(id, (passed, seen))| (id, *passed as f64 / *seen as f64))
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    for pair in order.windows(2) {
        if pair[0].1 < pair[1].1 {
            assert!(
                position(pair[0].0) < position(pair[1].0),
                "{} before {}",
                pair[0].0,
                pair[1].0
            );
        }
    }
    for id in &informational {
        assert!(
            position(id) > position(order.last().expect("checks").0),
            "{id} comes last"
        );
    }
    let (lowest_id, _) = order[0];
    let (passed, seen) = expected.passes[lowest_id];
    assert!(
        html.contains(&format!("({passed}/{seen})")),
        "{lowest_id}: {passed}/{seen}"
    );

    // Hints: the most frequent first, with how many students got it.
    let (top_hint, top_count) = expected
        .hints
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .expect("some hints");
    let hints_table = &html[html.find("id=\"hints\"").expect("hints section")..];
    let first_row = &hints_table[hints_table.find("<td class=\"n\">").expect("a hint row")..];
    assert!(
        first_row.starts_with(&format!(
            "<td class=\"n\">{top_count}</td><td>{}</td>",
            escape_like_the_page(top_hint)
        )),
        "{}",
        &first_row[..200.min(first_row.len())]
    );

    // The rows that could not be graded, with their detail.
    let failures = &html[html.find("id=\"failures\"").expect("failures section")
        ..html.find("id=\"students\"").expect("students")];
    assert_eq!(
        failures.matches("<td class=\"error\">error</td>").count(),
        ERRORS.len()
    );
    assert_eq!(
        failures.matches("<td class=\"infra\">infra</td>").count(),
        INFRA.len()
    );
    assert!(failures.contains("holds more than 200 MB"), "{failures}");
    assert!(failures.contains("without a result"), "{failures}");

    // The browser: first prove the console is really watched, on a page that logs an error.
    let probe = work.join("probe.html");
    std::fs::write(
        &probe,
        "<!DOCTYPE html><p>probe</p><script>console.error('probe-error')</script>",
    )
    .expect("write");
    let probed = chromium(&work, &probe, 200, &["--dump-dom".to_string()]);
    assert!(
        console_lines(&probed)
            .iter()
            .any(|l| l.contains("probe-error")),
        "chromium's console logging is not seen, so the report's could not be checked:\n{}",
        String::from_utf8_lossy(&probed.stderr)
    );

    let (boxes, page_height) = svg_boxes(&work, &report);
    assert_eq!(boxes.len(), 2, "{boxes:?}");
    let shot_path = work.join("report.png");
    let height = page_height.clamp(600, 16_000);
    let shot = chromium(
        &work,
        &report,
        height,
        &[format!("--screenshot={}", shot_path.display())],
    );
    let console = console_lines(&shot);
    assert!(
        console.is_empty(),
        "the report logged on the console:\n{}",
        console.join("\n")
    );
    println!("class report screenshot: {}", shot_path.display());

    let image = Screenshot::read(&shot_path);
    assert_eq!((image.width, image.height), (WIDTH, height));
    for (what, b) in ["histogram", "pass rates"].iter().zip(&boxes) {
        assert!(
            b[1] + b[3] <= image.height,
            "{what} {b:?} is below the screenshot"
        );
        let (ink, colours) = image.ink(*b);
        assert!(
            ink > 0.04 && colours >= 3,
            "{what} at {b:?} looks blank: {:.1} % ink, {colours} colours",
            ink * 100.0
        );
    }
    // And blank where nothing is drawn: the page's left margin.
    let (margin_ink, _) = image.ink([0, 0, 16, height]);
    assert!(
        margin_ink == 0.0,
        "the left margin has {:.2} % ink",
        margin_ink * 100.0
    );

    println!(
        "class report: {} rows, report.html {} bytes, batch {:.2} s, whole test {:.2} s",
        STUDENTS,
        html.len(),
        batch_took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// The page's escaping of text (the five characters HTML gives meaning to).
fn escape_like_the_page(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
