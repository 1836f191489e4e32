//! One keep-alive HTTP/1.1 connection, driven inside the task that sends on it (as `wrk` drives
//! its sockets): no pool, no connection task to hand each request to and wake for its answer,
//! no URL to parse per request. The load generator runs on the daemon's own two cores, so what
//! it spends per request is taken from the daemon; `reqwest` spent about twice what `wrk` does.

use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest, handshake};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type Io = TokioIo<TcpStream>;
/// An open connection: where requests go in, and the connection's own future to poll.
type Open = (
    SendRequest<Full<Bytes>>,
    Pin<Box<Connection<Io, Full<Bytes>>>>,
);

pub struct Http1 {
    addr: SocketAddr,
    host: HeaderValue,
    /// `None` after the connection failed or closed: the next request reconnects.
    open: Option<Open>,
}

impl Http1 {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            host: HeaderValue::from_str(&addr.to_string()).expect("an address is a valid header"),
            open: None,
        }
    }

    /// `GET path`: the status and the whole body.
    pub async fn get(&mut self, path: &Uri) -> anyhow::Result<(StatusCode, Bytes)> {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }

    /// `POST path` with a JSON body and `headers` (an `Authorization`, a signature).
    pub async fn post_json(
        &mut self,
        path: &Uri,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.send(Method::POST, path, headers, body).await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &Uri,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri(path.clone())
            .header(HOST, &self.host);
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body))?;
        if self.open.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            let (sender, connection) = handshake(TokioIo::new(stream)).await?;
            self.open = Some((sender, Box::pin(connection)));
        }
        let (sender, connection) = self.open.as_mut().expect("connected above");
        let exchange = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        };
        // The connection makes progress only while polled: poll it beside the exchange, in this
        // task. It finishes only when the connection ends, which fails the exchange.
        let outcome = tokio::select! {
            biased;
            answer = exchange => answer.map_err(anyhow::Error::from),
            ended = connection.as_mut() => Err(match ended {
                Ok(()) => anyhow::anyhow!("the daemon closed the connection"),
                Err(e) => e.into(),
            }),
        };
        if outcome.is_err() {
            self.open = None;
        }
        outcome
    }
}

/// `Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> (HeaderName, HeaderValue) {
    (
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("a token is a valid header"),
    )
}
