//! The unprivileged users student code runs as, and the one-way switch to them.
//!
//! The grader, as root, finds or creates the users a lab needs (`ensure_user`, `ensure_group`),
//! and a freshly forked child gives up root for good (`drop_to`) just before it executes student
//! code, then proves the drop cannot be undone.
//!
//! This module must never use `uzers::switch` for a drop (it swaps only the effective ids, which
//! the process can swap back), never let a child continue when any of its ids is still the old
//! one, and never allocate in `drop_to` or `harden_child`: they run between `fork` and `exec` of a
//! grader that may have several threads, where another thread may hold the allocator's lock.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::libc;
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{self, Gid, Uid};

use crate::Identity;

/// Error code (outside the errno range) `drop_to` reports when an id after the drop is not the
/// target one.
pub const DROP_DID_NOT_TAKE: i32 = 4001;

/// Error code (outside the errno range) `drop_to` reports when the child could become root
/// again after the drop (`setuid(0)` or `setgid(0)` succeeded). The child never runs the
/// program in that case.
pub const DROP_REVERSIBLE: i32 = 4002;

/// Why a user or group could not be found or made.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("{what} needs root: run the grader as root, or do it by hand first: `{by_hand}`")]
    NotRoot { what: String, by_hand: String },
    #[error(
        "`{tool}` not found, so {what} is not possible: install the `{package}` package, \
         or do it by hand first: `{by_hand}`"
    )]
    ToolMissing {
        tool: &'static str,
        package: &'static str,
        what: String,
        by_hand: String,
    },
    #[error("could not run `{command}`: {source}")]
    ToolStart {
        command: String,
        #[source]
        source: io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}{hint}")]
    ToolFailed {
        command: String,
        status: String,
        stderr: String,
        /// What to do about it, starting with "; " (empty when there is nothing better to say).
        hint: String,
    },
    #[error(
        "{what} reported success, but {missing}: check /etc/nsswitch.conf and any name-service \
         cache (nscd, sssd)"
    )]
    NotVisible { what: String, missing: String },
}

/// Ids for the users and groups the grader creates, far from ordinary accounts: in Docker without
/// a user namespace a container's uid is the host's, and RLIMIT_NPROC counts all its processes.
const GROUP_ID_RANGE: [&str; 4] = ["-K", "GID_MIN=20000", "-K", "GID_MAX=29999"];
const USER_ID_RANGE: [&str; 4] = ["-K", "UID_MIN=20000", "-K", "UID_MAX=29999"];

/// Whether the grader runs with effective uid 0 (and so can drop to other users).
pub fn is_root() -> bool {
    unistd::geteuid().is_root()
}

/// Looks `name` up in the user database. The groups are every group the database gives the user
/// (its primary group included), sorted, so a drop keeps exactly those.
pub fn lookup(name: &str) -> Option<Identity> {
    let user = uzers::get_user_by_name(name)?;
    let gid = user.primary_group_id();
    let mut groups: Vec<u32> = uzers::get_user_groups(name, gid)
        .unwrap_or_default()
        .iter()
        .map(|group| group.gid())
        .collect();
    if !groups.contains(&gid) {
        groups.push(gid);
    }
    groups.sort_unstable();
    groups.dedup();
    Some(Identity {
        name: name.to_owned(),
        uid: user.uid(),
        gid,
        groups,
    })
}

/// Returns the id of group `name`, creating it with `groupadd` when it does not exist yet.
/// Creates nothing when the group exists (as in an image where it was made at build time).
pub fn ensure_group(name: &str) -> Result<u32, PrivilegeError> {
    if let Some(group) = uzers::get_group_by_name(name) {
        return Ok(group.gid());
    }
    let what = format!("creating group `{name}`");
    let by_hand = format!("groupadd {name}");
    let mut args = GROUP_ID_RANGE.to_vec();
    args.push(name);
    run_admin_tool("groupadd", &args, &what, &by_hand)?;
    uzers::get_group_by_name(name)
        .map(|group| group.gid())
        .ok_or_else(|| PrivilegeError::NotVisible {
            what: format!("`groupadd {name}`"),
            missing: format!("group `{name}` is still unknown"),
        })
}

/// Returns user `name`, a member of every group in `supplementary_groups`. A missing user is
/// created with `useradd` (no password, no home directory, no login shell); a missing group is
/// created, and a missing membership added with `usermod -a -G`. Creates nothing when all of it
/// exists already (as in an image where the users were made at build time).
pub fn ensure_user(name: &str, supplementary_groups: &[&str]) -> Result<Identity, PrivilegeError> {
    let mut wanted = Vec::with_capacity(supplementary_groups.len());
    for group in supplementary_groups {
        wanted.push((*group, ensure_group(group)?));
    }
    let group_list = supplementary_groups.join(",");

    match lookup(name) {
        None => {
            let shell = no_login_shell();
            let mut args = vec!["-M", "-s", shell];
            // The user's own group is made by useradd, so it needs the group range too.
            args.extend(USER_ID_RANGE);
            args.extend(GROUP_ID_RANGE);
            if !group_list.is_empty() {
                args.extend(["-G", group_list.as_str()]);
            }
            args.push(name);
            let what = format!("creating user `{name}`");
            let by_hand = format!("useradd {}", args.join(" "));
            run_admin_tool("useradd", &args, &what, &by_hand)?;
        }
        Some(identity) => {
            for (group, gid) in &wanted {
                if !identity.groups.contains(gid) {
                    let args = ["-a", "-G", group, name];
                    let what = format!("adding user `{name}` to group `{group}`");
                    let by_hand = format!("usermod {}", args.join(" "));
                    run_admin_tool("usermod", &args, &what, &by_hand)?;
                }
            }
        }
    }

    let identity = lookup(name).ok_or_else(|| PrivilegeError::NotVisible {
        what: format!("creating user `{name}`"),
        missing: format!("user `{name}` is still unknown"),
    })?;
    if let Some((group, _)) = wanted
        .iter()
        .find(|(_, gid)| !identity.groups.contains(gid))
    {
        return Err(PrivilegeError::NotVisible {
            what: format!("adding user `{name}` to group `{group}`"),
            missing: format!("`{name}` is still not a member of `{group}`"),
        });
    }
    // Runs keep the groups asked for and no other: a user that existed before may be in groups
    // of the machine's (`docker`, `adm`, a course's staff group) that student code must not get.
    // The user's own group stays in the list, as the group database lists it.
    let mut kept: Vec<u32> = wanted.iter().map(|(_, gid)| *gid).collect();
    kept.push(identity.gid);
    kept.sort_unstable();
    kept.dedup();
    Ok(Identity {
        groups: kept,
        ..identity
    })
}

/// Gives up the grader's identity for `identity`, for good. Call it only in a freshly forked
/// child before `exec` (it is safe there: no allocation, only system calls on precomputed ids).
///
/// Order matters: the supplementary groups first (only root may set them), then the group id,
/// then the user id (after which nothing else may be changed). Then it checks every real,
/// effective and saved id, and that neither `setuid(0)` nor `setgid(0)` works any more; a
/// mismatch fails with [`DROP_DID_NOT_TAKE`] or [`DROP_REVERSIBLE`]. Finally `harden_child`.
pub fn drop_to(identity: &Identity) -> io::Result<()> {
    // `gid_t` is `u32` on Linux, so the ids can be handed to the kernel as they are stored; the
    // type annotation makes the build fail on a platform where that is not so.
    let groups: &[libc::gid_t] = &identity.groups;
    // SAFETY: pointer and length come from one live slice, which setgroups only reads.
    if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let uid = Uid::from_raw(identity.uid);
    let gid = Gid::from_raw(identity.gid);
    unistd::setgid(gid)?;
    unistd::setuid(uid)?;

    let ids = unistd::getresuid()?;
    let gids = unistd::getresgid()?;
    if [ids.real, ids.effective, ids.saved] != [uid; 3]
        || [gids.real, gids.effective, gids.saved] != [gid; 3]
        || unistd::getuid() != uid
        || unistd::geteuid() != uid
        || unistd::getgid() != gid
        || unistd::getegid() != gid
    {
        return Err(io::Error::from_raw_os_error(DROP_DID_NOT_TAKE));
    }
    if unistd::setuid(Uid::from_raw(0)).is_ok() || unistd::setgid(Gid::from_raw(0)).is_ok() {
        return Err(io::Error::from_raw_os_error(DROP_REVERSIBLE));
    }
    harden_child()
}

/// Sets no_new_privs (no exec can grant privileges again: set-user-id bits and file
/// capabilities are ignored) and asks the kernel to SIGKILL the child when the thread that forked
/// it ends. Call it in the child after any id change, because changing ids clears the
/// parent-death signal. Allocation-free, like `drop_to`.
pub fn harden_child() -> io::Result<()> {
    prctl::set_no_new_privs()?;
    prctl::set_pdeathsig(Signal::SIGKILL)?;
    Ok(())
}

/// Says in words what one of this module's error codes means, or None for an ordinary errno.
pub fn describe_code(code: i32) -> Option<&'static str> {
    match code {
        DROP_DID_NOT_TAKE => Some("after the privilege drop an id was still not the target one"),
        DROP_REVERSIBLE => Some(
            "after the privilege drop the child could still become root again (refusing to run it)",
        ),
        _ => None,
    }
}

/// The login shell given to created users: one that refuses logins.
fn no_login_shell() -> &'static str {
    ["/usr/sbin/nologin", "/sbin/nologin"]
        .into_iter()
        .find(|shell| Path::new(shell).exists())
        .unwrap_or("/bin/false")
}

/// Finds an administration tool in the usual places, then on PATH (which may lack the sbin
/// directories when the grader is started from a user's shell).
fn find_tool(tool: &str) -> Option<PathBuf> {
    let usual = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from);
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    usual
        .into_iter()
        .chain(on_path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Runs `tool args` as root with a plain environment, turning every way it can go wrong into an
/// error that says what to do.
fn run_admin_tool(
    tool: &'static str,
    args: &[&str],
    what: &str,
    by_hand: &str,
) -> Result<(), PrivilegeError> {
    if !is_root() {
        return Err(PrivilegeError::NotRoot {
            what: what.to_owned(),
            by_hand: by_hand.to_owned(),
        });
    }
    let path = find_tool(tool).ok_or_else(|| PrivilegeError::ToolMissing {
        tool,
        package: "passwd",
        what: what.to_owned(),
        by_hand: by_hand.to_owned(),
    })?;
    let command = format!("{tool} {}", args.join(" "));
    let output = Command::new(&path)
        .args(args.iter().map(OsStr::new))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .output()
        .map_err(|source| PrivilegeError::ToolStart {
            command: command.clone(),
            source,
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    let hint = failure_hint(&stderr, by_hand);
    Err(PrivilegeError::ToolFailed {
        command,
        status: output.status.to_string(),
        stderr,
        hint,
    })
}

/// A next step for the usual reasons the account tools fail.
fn failure_hint(stderr: &str, by_hand: &str) -> String {
    let lower = stderr.to_ascii_lowercase();
    if lower.contains("read-only file system") || lower.contains("cannot lock") {
        format!(
            "; /etc cannot be written here (a read-only container?): create the users when the \
             image is built (`RUN {by_hand}` in the Dockerfile)"
        )
    } else if lower.contains("permission denied") {
        "; the grader lacks the rights to change /etc/passwd and /etc/group (run it as root)"
            .to_owned()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;

    use super::*;

    #[test]
    fn privilege_lookup_finds_root_and_nobody_but_not_strangers() {
        let root = lookup("root").expect("root exists");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        let nobody = lookup("nobody").expect("nobody exists");
        assert_eq!(nobody.uid, 65534);
        assert!(nobody.groups.contains(&nobody.gid));
        assert_eq!(lookup("no-such-user-ipclab"), None);
    }

    #[test]
    fn privilege_existing_group_and_user_are_returned_without_creating_anything() {
        let users = uzers::get_group_by_name("users").expect("group users exists on Debian");
        assert_eq!(ensure_group("users").expect("exists"), users.gid());
        let nobody = ensure_user("nobody", &[]).expect("exists");
        assert_eq!(Some(nobody), lookup("nobody"));
    }

    #[test]
    #[cfg_attr(ipc_lab_root, ignore = "needs a user that is not root")]
    fn privilege_non_root_cannot_create_and_says_so() {
        let error = ensure_group("ipclab-never-made").expect_err("not root");
        assert!(error.to_string().contains("needs root"), "{error}");
    }

    /// Removes the throwaway user and group of a test, however the test ends.
    struct Throwaway {
        user: String,
        group: String,
    }

    impl Drop for Throwaway {
        fn drop(&mut self) {
            let _ = Command::new("/usr/sbin/userdel").arg(&self.user).output();
            let _ = Command::new("/usr/sbin/groupdel").arg(&self.group).output();
        }
    }

    #[test]
    #[cfg_attr(
        not(ipc_lab_root),
        ignore = "needs root (CI runs as root; or run the tests in the grader image)"
    )]
    fn privilege_ensure_user_creates_the_user_then_adds_a_missing_group() {
        let tag = std::process::id() % 1_000_000;
        let guard = Throwaway {
            user: format!("ipclab-u{tag}"),
            group: format!("ipclab-g{tag}"),
        };
        assert_eq!(lookup(&guard.user), None, "left over from an earlier run");

        let created = ensure_user(&guard.user, &["users"]).expect("useradd");
        let users = ensure_group("users").expect("users exists");
        assert!(created.groups.contains(&users), "{created:?}");
        assert_ne!(created.uid, 0);

        let extra = ensure_group(&guard.group).expect("groupadd");
        let extended = ensure_user(&guard.user, &["users", &guard.group]).expect("usermod");
        assert_eq!(extended.uid, created.uid);
        assert!(extended.groups.contains(&extra), "{extended:?}");
        // Asking again changes nothing.
        assert_eq!(
            ensure_user(&guard.user, &["users", &guard.group]).expect("no-op"),
            extended
        );
    }

    /// Runs `script` with `sh` in a child that called `drop_to(identity)` before exec.
    fn run_dropped(identity: &Identity, script: &str) -> io::Result<std::process::Output> {
        let identity = identity.clone();
        let mut command = Command::new("/bin/sh");
        command
            .args(["-c", script])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null());
        // SAFETY: drop_to only makes system calls on ids prepared before the fork.
        unsafe { command.pre_exec(move || drop_to(&identity)) };
        command.output()
    }

    #[test]
    #[cfg_attr(
        not(ipc_lab_root),
        ignore = "needs root (CI runs as root; or run the tests in the grader image)"
    )]
    fn privilege_drop_to_nobody_changes_every_id_and_sets_no_new_privs() {
        let _lock = crate::tests::nobody_lock();
        let nobody = lookup("nobody").expect("nobody exists");
        let output = run_dropped(
            &nobody,
            "id -u; id -g; grep -E '^(Uid|Gid|Groups|NoNewPrivs):' /proc/self/status",
        )
        .expect("spawn");
        let text = String::from_utf8_lossy(&output.stdout);
        let groups: Vec<String> = nobody.groups.iter().map(u32::to_string).collect();
        assert!(output.status.success(), "{output:?}");
        assert!(text.starts_with("65534\n65534\n"), "{text}");
        assert!(text.contains("Uid:\t65534\t65534\t65534\t65534"), "{text}");
        assert!(text.contains("Gid:\t65534\t65534\t65534\t65534"), "{text}");
        assert!(
            text.contains(&format!("Groups:\t{} ", groups.join(" "))),
            "{text}"
        );
        assert!(text.contains("NoNewPrivs:\t1"), "{text}");
    }

    #[test]
    #[cfg_attr(
        not(ipc_lab_root),
        ignore = "needs root (CI runs as root; or run the tests in the grader image)"
    )]
    fn an_existing_user_keeps_only_the_groups_asked_for() {
        let (user, asked, extra) = ("ipclab-t-groups", "ipclab-t-asked", "ipclab-t-extra");
        ensure_group(extra).expect("extra group");
        ensure_user(user, &[]).expect("the user");
        let status = Command::new("usermod")
            .args(["-a", "-G", extra, user])
            .status()
            .expect("usermod");
        assert!(status.success());
        let id = ensure_user(user, &[asked]).expect("the user again");
        let asked_gid = ensure_group(asked).expect("asked group");
        let extra_gid = ensure_group(extra).expect("extra group");
        let mut expected = vec![asked_gid, id.gid];
        expected.sort_unstable();
        assert_eq!(id.groups, expected, "{id:?}");
        assert!(
            lookup(user)
                .expect("still there")
                .groups
                .contains(&extra_gid)
        );
        let output = run_dropped(&id, "grep '^Groups:' /proc/self/status").expect("spawn");
        let text = String::from_utf8_lossy(&output.stdout);
        let shown: Vec<String> = expected.iter().map(u32::to_string).collect();
        assert_eq!(
            text.trim(),
            format!("Groups:\t{}", shown.join(" ")),
            "{text}"
        );
        // userdel removes the user's own group too.
        let _ = Command::new("userdel").arg(user).output();
        for group in [asked, extra] {
            let _ = Command::new("groupdel").arg(group).output();
        }
    }

    #[test]
    #[cfg_attr(
        not(ipc_lab_root),
        ignore = "needs root (CI runs as root; or run the tests in the grader image)"
    )]
    fn privilege_drop_to_root_is_refused_as_reversible() {
        let root = lookup("root").expect("root exists");
        let error = run_dropped(&root, "echo ran").expect_err("must not run");
        assert_eq!(error.raw_os_error(), Some(DROP_REVERSIBLE), "{error}");
        assert!(describe_code(DROP_REVERSIBLE).is_some());
    }
}
