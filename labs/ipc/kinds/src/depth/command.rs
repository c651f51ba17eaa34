//! `grader depth`: runs the traversal corpus against every mode of a cat, as the files' owner and
//! (when root) as the confined user, and prints the defense-in-depth table.
//!
//! As root it sets up and locks the lab's users exactly as `grader grade` does (the two must never
//! run student code as those users at the same time), copies the cat where both users can run
//! it, and kills every process of those users when it is done. It never modifies anything but
//! its own temporary directory and, with `--update`, the one Markdown file it is given.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::corpus::Corpus;
use super::layout::Layout;
use super::run::{self, Tally};
use super::table::{self, Half};
use engine::grade::ROOT_TOOL_PATH;
use engine::scratch::Owners;
use lab::Lab;
use sandbox::privilege;
use sandbox::{self, Spec, Stdin};

const EXIT_MATCHED: u8 = 0;
const EXIT_MISMATCH: u8 = 1;
const EXIT_ERROR: u8 = 2;

/// Threads running the cat at once, by default. Most runs wait on the kernel, and a `hangs` cell
/// waits out its whole deadline, so more threads than cores pay off.
const WORKERS: usize = 6;

pub const EXIT_CODES: &str = "\
Exit status:
  0  every cell behaved as the corpus expects
  1  some cell did not (marked ✗ in the table)
  2  the table could not be made: a bad corpus or lab file, no cat, no way to set up the users";

#[derive(Debug, clap::Args)]
pub struct DepthArgs {
    /// The cat to test: a program that reads a name on stdin and takes `--mode <mode>`
    /// [default: `cat-sandbox` next to the grader's own executable].
    #[arg(long, value_name = "PROGRAM")]
    pub cat: Option<PathBuf>,
    /// The corpus [default: labs/ipc/traversal.toml, built into the grader].
    #[arg(long, value_name = "FILE")]
    pub corpus: Option<PathBuf>,
    /// The lab file naming the owner and confined users [default: the built-in IPC lab].
    #[arg(long, value_name = "FILE")]
    pub lab: Option<PathBuf>,
    /// Runs of each race case, per mode and user [default: the corpus' `race_runs`].
    #[arg(long, value_name = "N")]
    pub race_runs: Option<usize>,
    /// Also replace the generated table in this Markdown file (between its depth-table markers).
    /// Needs root, so that the confined user's half is real; refused if any cell is ✗.
    #[arg(long, value_name = "FILE")]
    pub update: Option<PathBuf>,
    /// Runs of the cat at the same time.
    #[arg(long, value_name = "N", default_value_t = WORKERS)]
    pub jobs: usize,
    /// Where the temporary corpus directory is made [default: the temporary directory].
    #[arg(long, value_name = "DIR", env = "GRADER_SCRATCH_DIR")]
    pub scratch_dir: Option<PathBuf>,
}

/// Runs the command; `load` reads the lab of `--lab` (None: the built-in one) with the kinds the
/// binary registered.
pub fn main(args: DepthArgs, load: &dyn Fn(Option<&Path>) -> Result<Lab, String>) -> ExitCode {
    match depth(&args, load) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("grader depth: error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// One column of one half: a case in a mode, as a user.
#[derive(Debug, Clone, Copy)]
struct Cell {
    case: usize,
    mode: usize,
    /// The lab's first role (false) or its confined role (true).
    confined: bool,
}

fn depth(
    args: &DepthArgs,
    load: &dyn Fn(Option<&Path>) -> Result<Lab, String>,
) -> Result<u8, String> {
    let corpus = match &args.corpus {
        Some(path) => Corpus::load(path),
        None => Corpus::embedded(),
    }
    .map_err(|e| e.to_string())?;
    let lab = load(args.lab.as_deref())?;
    let cat = find_cat(args.cat.as_deref())?;
    let root = privilege::is_root();
    if args.update.is_some() && !root {
        return Err("--update needs root: without it the confined user's half of the table cannot be made\n  fix: run `sudo grader depth --update FILE`, or in the lab's Docker image".into());
    }
    sandbox::become_subreaper().map_err(|e| e.to_string())?;
    let scratch_parent = args
        .scratch_dir
        .clone()
        .unwrap_or_else(|| engine::grade::Options::from_defaults().scratch_parent);

    let _lock = if root { Some(lock_users()?) } else { None };
    let (owners, confined_name) = users(&lab, &corpus, root)?;
    let result = tabulate(
        args,
        &corpus,
        &cat,
        &owners,
        &confined_name,
        &scratch_parent,
    );
    for id in owners.all() {
        let _ = sandbox::kill_all_of_user(id.uid);
    }
    result
}

fn tabulate(
    args: &DepthArgs,
    corpus: &Corpus,
    cat: &Path,
    owners: &Owners,
    confined_name: &str,
    scratch_parent: &Path,
) -> Result<u8, String> {
    let layout = Layout::create(scratch_parent, corpus, owners).map_err(|e| e.to_string())?;
    let program = install_cat(cat, &layout.root)?;
    let race_runs = args.race_runs.unwrap_or(corpus.race_runs).max(1);
    let roles: Vec<bool> = if owners.of(CONFINED).is_some() {
        vec![false, true]
    } else {
        vec![false]
    };
    let cells: Vec<Cell> = roles
        .iter()
        .flat_map(|&role| {
            (0..corpus.cases.len()).flat_map(move |case| {
                (0..corpus.modes.len()).map(move |mode| Cell {
                    case,
                    mode,
                    confined: role,
                })
            })
        })
        .collect();
    let tool_path = if owners.owner.is_some() {
        ROOT_TOOL_PATH.into()
    } else {
        std::env::var_os("PATH").unwrap_or_else(|| ROOT_TOOL_PATH.into())
    };
    let spec_for = |cell: &Cell, stdin: Vec<u8>| -> Spec {
        let identity = if cell.confined {
            owners.of(CONFINED).cloned()
        } else {
            owners.owner.clone()
        };
        Spec {
            program: program.clone().into_os_string(),
            args: vec!["--mode".into(), corpus.modes[cell.mode].clone().into()],
            cwd: layout.run.clone(),
            env: vec![
                ("PATH".into(), tool_path.clone()),
                ("HOME".into(), "/nonexistent".into()),
                ("LANG".into(), "C.UTF-8".into()),
            ],
            stdin: Stdin::Bytes(stdin),
            limits: engine::checks::program_limits(identity.is_some()),
            identity,
            deadline: corpus.timeout,
            output_cap: 64 << 10,
            isolate_network: false,
            ready_fd: None,
        }
    };
    let run_cell = |cell: &Cell, runs: usize| -> Tally {
        let case = &corpus.cases[cell.case];
        run::run_case(case, corpus, &layout, runs, &|stdin| spec_for(cell, stdin))
    };

    let began = Instant::now();
    let (races, plain): (Vec<Cell>, Vec<Cell>) = cells
        .iter()
        .partition(|cell| corpus.cases[cell.case].is_race());
    let mut tallies: Vec<(Cell, Tally)> = plain
        .iter()
        .copied()
        .zip(run::in_parallel(&plain, args.jobs, &|cell| {
            run_cell(cell, 1)
        }))
        .collect();
    if !races.is_empty() {
        let swappers =
            run::start_swappers(races.iter().map(|c| &corpus.cases[c.case]), corpus, &layout);
        let raced = run::in_parallel(&races, args.jobs, &|cell| run_cell(cell, race_runs));
        let stopped = run::stop_swappers(swappers);
        let mut raced: Vec<(Cell, Tally)> = races.iter().copied().zip(raced).collect();
        if let Err(e) = stopped {
            for (_, tally) in &mut raced {
                tally.error = Some(e.clone());
            }
        }
        tallies.extend(raced);
    }
    let elapsed = began.elapsed();
    let total_runs: usize = tallies.iter().map(|(_, t)| t.runs).sum();

    let half = |role: bool| -> Option<Half> {
        roles.contains(&role).then(|| Half {
            cells: (0..corpus.cases.len())
                .map(|case| {
                    (0..corpus.modes.len())
                        .map(|mode| {
                            tallies
                                .iter()
                                .find(|(c, _)| {
                                    c.case == case && c.mode == mode && c.confined == role
                                })
                                .map_or_else(Tally::default, |(_, t)| t.clone())
                        })
                        .collect()
                })
                .collect(),
        })
    };
    let owner_half = half(false).unwrap_or(Half { cells: Vec::new() });
    let confined_half = half(true);
    let block = table::render(corpus, &owner_half, confined_half.as_ref(), confined_name);
    print!("{block}");
    let owner_label = owners
        .owner
        .as_ref()
        .map_or_else(|| "the files' owner".to_string(), |o| o.name.clone());
    let mut halves = vec![(owner_label.as_str(), &owner_half)];
    if let Some(h) = &confined_half {
        halves.push((confined_name, h));
    }
    println!();
    print!(
        "{}",
        table::measurements(
            corpus,
            &halves,
            race_runs,
            total_runs,
            elapsed,
            args.jobs.max(1)
        )
    );
    let mismatched = owner_half.mismatches(corpus, false).count()
        + confined_half
            .as_ref()
            .map_or(0, |h| h.mismatches(corpus, true).count());
    let _ = layout.remove();
    if mismatched > 0 {
        eprintln!(
            "grader depth: {mismatched} cell(s) did not behave as the corpus expects (marked ✗)"
        );
        return Ok(EXIT_MISMATCH);
    }
    if let Some(path) = &args.update {
        update(path, &block)?;
        eprintln!("grader depth: updated the table in {}", path.display());
    }
    Ok(EXIT_MATCHED)
}

/// The cat to test: the given path, or `cat-sandbox` next to the grader.
fn find_cat(given: Option<&Path>) -> Result<PathBuf, String> {
    let path = match given {
        Some(path) => path.to_path_buf(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find the grader's own executable: {e}"))?
            .with_file_name("cat-sandbox"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "no cat to test at {}\n  fix: build it (`cargo build -p cat-sandbox`, next to the grader) or pass --cat PROGRAM",
            path.display()
        ))
    }
}

/// Copies the cat into the corpus directory, where both users can run it whatever the
/// permissions of the place it was built in.
fn install_cat(cat: &Path, root: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let bin = root.join("bin");
    let program = bin.join("cat");
    let failed = |e: std::io::Error| {
        format!(
            "cannot copy {} to {}: {e}",
            cat.display(),
            program.display()
        )
    };
    std::fs::create_dir(&bin).map_err(failed)?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).map_err(failed)?;
    std::fs::copy(cat, &program).map_err(failed)?;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).map_err(failed)?;
    Ok(program)
}

/// The role the confined half of the table runs as.
const CONFINED: &str = "confined";

/// As root, the lab's users, made as `grader grade` makes them; otherwise nobody to switch to.
fn users(lab: &Lab, corpus: &Corpus, root: bool) -> Result<(Owners, String), String> {
    let Some(confined) = lab.role(CONFINED) else {
        return Err(format!(
            "the lab {} defines no `confined` role: the table needs an owner and a confined user",
            lab.source
        ));
    };
    if !root {
        return Ok((Owners::default(), confined.user.clone()));
    }
    for group in corpus.files.iter().filter_map(|f| f.group.as_ref()) {
        privilege::ensure_group(group).map_err(|e| e.to_string())?;
    }
    let users = engine::grade::ensure_users(lab, None).map_err(|e| e.to_string())?;
    // Leftovers of an earlier run that died would share the users' process limits.
    for (_, id) in &users.roles {
        let _ = sandbox::kill_all_of_user(id.uid);
    }
    Ok((
        Owners {
            owner: users.roles.first().map(|(_, id)| id.clone()),
            roles: users.roles.into_iter().collect(),
        },
        confined.user.clone(),
    ))
}

/// The machine-wide lock `grader grade` takes on the lab's users, held until dropped: each run
/// ends by killing every process of those users, so two runs must never overlap.
fn lock_users() -> Result<File, String> {
    engine::grade::lock_users(&engine::grade::users_lock_path(None)).map_err(|e| e.to_string())
}

/// Writes `block` over the generated table of the Markdown file at `path`.
fn update(path: &Path, block: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let updated = table::splice(&text, block).ok_or_else(|| {
        format!(
            "{} has no generated table to replace\n  fix: put a line starting with `{}` and a line `{}` where the table belongs",
            path.display(),
            table::BEGIN,
            table::END
        )
    })?;
    report::write_atomically(path, updated.as_bytes()).map_err(|e| e.to_string())
}
