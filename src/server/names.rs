//! The names a server and its cluster may take, checked in one place for
//! the configuration file, the command line and a reload alike.

/// nats-server refuses a server name with a space (it is a JSON field and a
/// subject token in system events).
pub fn check_server_name(name: &str) -> Result<(), &'static str> {
    if name.contains(' ') {
        return Err("server name cannot contain spaces");
    }
    Ok(())
}

/// The same rule for a cluster name (it travels in route INFO and is
/// compared between servers).
pub fn check_cluster_name(name: &str) -> Result<(), &'static str> {
    if name.contains(' ') {
        return Err("cluster name cannot contain spaces");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_spaces_are_refused() {
        assert_eq!(check_server_name("a b"), Err("server name cannot contain spaces"));
        assert_eq!(check_cluster_name("a b"), Err("cluster name cannot contain spaces"));
        assert!(check_server_name("srv-1").is_ok());
        assert!(check_cluster_name("").is_ok());
    }
}
