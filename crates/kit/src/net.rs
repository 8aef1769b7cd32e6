//! Binding listeners, with errors that name the setting.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::error::KitError;

/// Binds `addr`; on failure the error names `setting` (e.g. `store.listen`) and the reason.
pub async fn bind(setting: &str, addr: SocketAddr) -> Result<TcpListener, KitError> {
    TcpListener::bind(addr).await.map_err(|e| KitError::Bind {
        setting: setting.to_owned(),
        addr,
        reason: match e.kind() {
            std::io::ErrorKind::AddrInUse => "address already in use".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            std::io::ErrorKind::AddrNotAvailable => "address not available on this host".to_owned(),
            _ => e.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn port_in_use_names_the_setting() {
        let first = bind("gateway.listen", "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let taken = first.local_addr().expect("addr");
        let err = bind("gateway.listen", taken)
            .await
            .expect_err("in use")
            .to_string();
        assert_eq!(
            err,
            format!("gateway.listen = {taken}: cannot listen: address already in use")
        );
    }
}
