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
