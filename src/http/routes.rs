//! Route registration that remembers what it serves. Every route of the daemon is mounted
//! through [`Routes`], which records its method and full path; the OpenAPI document is checked
//! against that record (`tests/api/openapi.rs`), so a route cannot be served undocumented, nor
//! documented unserved.

use std::collections::BTreeSet;
use std::sync::Mutex;

use actix_web::{FromRequest, Handler, Resource, Responder, Route, web};

static SERVED: Mutex<BTreeSet<(&'static str, String)>> = Mutex::new(BTreeSet::new());

/// Every `(method, path)` mounted so far in this process, paths as actix writes them
/// (`/api/v1/tickets/{id}`).
pub fn served() -> Vec<(&'static str, String)> {
    SERVED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect()
}

fn record(method: &'static str, path: String) {
    SERVED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert((method, path));
}

/// A `ServiceConfig` under a path prefix, recording each route it mounts.
pub struct Routes<'a> {
    cfg: &'a mut web::ServiceConfig,
    prefix: &'static str,
}

macro_rules! methods {
    ($($name:ident => $method:literal),* $(,)?) => {
        $(
            pub fn $name<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
            where
                F: Handler<Args>,
                Args: FromRequest + 'static,
                F::Output: Responder + 'static,
            {
                self.route($method, path, web::$name().to(handler))
            }
        )*
    };
}

impl<'a> Routes<'a> {
    pub fn new(cfg: &'a mut web::ServiceConfig, prefix: &'static str) -> Self {
        Routes { cfg, prefix }
    }

    methods! {
        get => "get",
        post => "post",
        put => "put",
        patch => "patch",
        delete => "delete",
    }

    fn route(&mut self, method: &'static str, path: &str, route: Route) -> &mut Self {
        record(method, format!("{}{path}", self.prefix));
        self.cfg.route(path, route);
        self
    }

    /// A resource of its own (its own body limit, say) serving `methods`.
    pub fn resource(
        &mut self,
        path: &str,
        methods: &[&'static str],
        build: impl FnOnce(Resource) -> Resource,
    ) -> &mut Self {
        for method in methods {
            record(method, format!("{}{path}", self.prefix));
        }
        self.cfg.service(build(web::resource(path)));
        self
    }

    /// Routes that are not part of the API (the console's files): mounted, not recorded.
    pub fn unlisted(&mut self) -> &mut web::ServiceConfig {
        self.cfg
    }
}
