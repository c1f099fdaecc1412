//! Nothing a command started outlives labcert. As a child subreaper, labcert adopts the
//! processes a command left behind when their parent exits (instead of init), so at exit
//! (and on a second signal) every one of them can be found and killed.

/// Makes labcert the subreaper of everything it starts. Call once, first thing in `main`.
pub fn adopt_orphans() {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument and changes only this
    // process's attribute; a failure (an old kernel) leaves the default behaviour.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// Kills every process labcert started that still runs, with whatever it started. For the
/// moment labcert exits.
pub fn kill_leftovers() {
    super::tree::kill_descendants_of_self();
}
