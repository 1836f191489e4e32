//! The operator console: static files built into the binary (`console/`), served at `/` with a
//! strict Content-Security-Policy. Nothing is fetched at run time and there is no build step;
//! the page speaks only the public contract, like any other client.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

/// Scripts, styles and connections only from the daemon itself; no inline code, no frames.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; frame-src blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const FILES: [(&str, &str, &str); 5] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/app.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/i18n.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/admin.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../console/app.css"),
    ),
];

pub fn routes(r: &mut super::routes::Routes) {
    r.unlisted()
        .route("/", web::get().to(|| async { file("index.html") }))
        .route(
            "/console/{file}",
            web::get().to(|name: web::Path<String>| async move { file(&name) }),
        );
}

fn file(name: &str) -> HttpResponse {
    let Some((_, content_type, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return HttpResponse::NotFound().finish();
    };
    let mut response = HttpResponse::Ok();
    response
        .content_type(*content_type)
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        // The console changes with the binary: revalidate rather than run a stale script.
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    response.body(*body)
}
