//! Facts about the running process and machine.

/// The OS user name (from the password database, then $USER).
pub fn os_user() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy the name
    // out at once and call it from one thread at a time in practice (only for messages).
    let from_passwd = unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            None
        } else {
            Some(std::ffi::CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned())
        }
    };
    from_passwd.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into())
}

/// This machine's name (letters, digits, `-`, `_` and `.`; at most 64 characters).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name: String = String::from_utf8_lossy(&buf[..end])
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    if rc != 0 || name.is_empty() { "unknown host".into() } else { name }
}

/// Who this process is, for others told it holds a lock: `pid 4242 on laptop (seed bulk)`.
pub fn holder(command: &str) -> String {
    format!("pid {} on {} ({command})", std::process::id(), host_name())
}

/// Whether this process (its effective user) may write `path`, or create it when it
/// does not exist: asked of the kernel (faccessat with AT_EACCESS), not guessed from
/// mode bits, so root, ACLs and read-only mounts answer correctly.
pub fn writable_by_me(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let target = if path.exists() {
        path.to_path_buf()
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        }
    };
    let Ok(c) = std::ffi::CString::new(target.as_os_str().as_bytes()) else { return false };
    // SAFETY: a valid NUL-terminated path; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

/// Gives freed buffers back to the system as they are freed (glibc).
///
/// Snapshot create hands 1 MiB chunks and compressor states between threads. glibc
/// raises its mmap threshold after the first such buffer is freed, so later ones come
/// from per-thread arenas that keep freed memory: peak RSS grew with the data (72 MB at
/// 1M rows, 109–166 MB at 3–10M). A fixed threshold keeps big buffers on mmap, freed at
/// once: measured flat at about 25 MB, no slower. Call before any thread starts.
pub fn keep_memory_flat() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
