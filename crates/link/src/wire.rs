//! HTTP heads to and from their frame form.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, HttpBody};
use flowork_proto::v1 as pb;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

use crate::LinkError;

/// Headers that describe one hop's connection, not the message; a tunnel must not pass them on.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The frame form of a header map, minus hop-by-hop headers.
pub(crate) fn headers_to_wire(map: &HeaderMap) -> Vec<pb::Header> {
    map.iter()
        .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()))
        .map(|(name, value)| pb::Header {
            name: name.as_str().to_owned(),
            value: value.as_bytes().to_vec(),
        })
        .collect()
}

fn headers_from_wire(headers: Vec<pb::Header>) -> Result<HeaderMap, LinkError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for h in headers {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| LinkError::Protocol(format!("header name {:?}", h.name)))?;
        let value = HeaderValue::from_bytes(&h.value)
            .map_err(|_| LinkError::Protocol(format!("value of header {name}")))?;
        if !HOP_BY_HOP.contains(&name.as_str()) {
            map.append(name, value);
        }
    }
    Ok(map)
}

/// True when the body is known to carry no data, so no chunk needs to follow the head.
pub(crate) fn body_is_empty(body: &Body) -> bool {
    body.is_end_stream() || body.size_hint().exact() == Some(0)
}

/// `deadline` as Unix milliseconds, for the engine (which has no access to our clock).
pub(crate) fn unix_ms(deadline: Instant) -> i64 {
    let left = deadline.saturating_duration_since(Instant::now());
    let at = SystemTime::now() + left;
    at.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The head frame opening request `stream_id`.
pub(crate) fn request_head(
    stream_id: u64,
    parts: &http::request::Parts,
    deadline: Instant,
    empty_body: bool,
) -> pb::HttpRequestHead {
    pb::HttpRequestHead {
        stream_id,
        method: parts.method.as_str().to_owned(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        headers: headers_to_wire(&parts.headers),
        deadline_unix_ms: unix_ms(deadline),
        empty_body,
    }
}

/// The request the engine's router serves for `head`.
pub(crate) fn request_from_head(
    head: pb::HttpRequestHead,
    body: Body,
) -> Result<http::Request<Body>, LinkError> {
    let method = http::Method::from_bytes(head.method.as_bytes())
        .map_err(|_| LinkError::Protocol(format!("method {:?}", head.method)))?;
    let uri: http::Uri = head
        .path_and_query
        .parse()
        .map_err(|_| LinkError::Protocol(format!("path {:?}", head.path_and_query)))?;
    let mut req = http::Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers_from_wire(head.headers)?;
    Ok(req)
}

/// The head frame answering request `stream_id`.
pub(crate) fn response_head(
    stream_id: u64,
    parts: &http::response::Parts,
    empty_body: bool,
) -> pb::HttpResponseHead {
    pb::HttpResponseHead {
        stream_id,
        status: u32::from(parts.status.as_u16()),
        headers: headers_to_wire(&parts.headers),
        empty_body,
    }
}

/// The response the gateway hands back for `head`.
pub(crate) fn response_from_head(
    head: pb::HttpResponseHead,
    body: Body,
) -> Result<http::Response<Body>, LinkError> {
    let status = u16::try_from(head.status)
        .ok()
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .ok_or_else(|| LinkError::Protocol(format!("status {}", head.status)))?;
    let mut res = http::Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers_from_wire(head.headers)?;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head_round_trips_without_hop_by_hop_headers() {
        let req = http::Request::post("/api/x?y=1")
            .header("x-one", "a")
            .header("x-one", "b")
            .header("connection", "close")
            .body(Body::empty())
            .expect("request");
        let (parts, body) = req.into_parts();
        let head = request_head(7, &parts, Instant::now(), body_is_empty(&body));
        assert!(head.empty_body);
        let back = request_from_head(head, Body::empty()).expect("valid");
        assert_eq!(back.method(), http::Method::POST);
        assert_eq!(back.uri(), "/api/x?y=1");
        let ones: Vec<_> = back.headers().get_all("x-one").iter().collect();
        assert_eq!(ones, ["a", "b"]);
        assert!(back.headers().get("connection").is_none());
    }

    #[test]
    fn a_bad_status_is_a_protocol_error() {
        let head = pb::HttpResponseHead {
            stream_id: 1,
            status: 99_999,
            headers: vec![],
            empty_body: true,
        };
        assert!(matches!(
            response_from_head(head, Body::empty()),
            Err(LinkError::Protocol(_))
        ));
    }
}
