//! The brand on pages: the name and logo at the top, the accent colours, the support link, and
//! the headers that let a page show them. Built once at start from `core.brand`.

use std::sync::{Arc, LazyLock};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::foundation::brand::{Brand, Logo};
use crate::web::pages;
use crate::web::paths;
use crate::web::state::AppState;

/// Text on the dark page's lighter accent.
const DARK_ACCENT_TEXT: &str = "#12121c";

/// What pages show of the brand.
#[derive(Debug, Default)]
pub(crate) struct PageBrand {
    pub name: String,
    /// The logo's address, which changes with the file.
    pub logo_path: Option<String>,
    pub support_url: Option<String>,
    /// The accent colours, as the contents of a `<style>` block after the stylesheet.
    pub style: Option<String>,
    /// That block's hash as a `style-src` source.
    style_source: Option<String>,
    logo: Option<Logo>,
}

impl PageBrand {
    pub(crate) fn new(brand: &Brand) -> Self {
        let style = brand.palette.as_ref().map(|palette| {
            format!(
                ":root{{--accent:{};--accent-fg:#fff}}@media (prefers-color-scheme:dark){{:root{{--accent:{};--accent-fg:{DARK_ACCENT_TEXT}}}}}",
                palette.light, palette.dark
            )
        });
        let style_source = style.as_deref().map(|style| {
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style))
            )
        });
        Self {
            name: brand.name.clone(),
            logo_path: brand.logo.as_ref().map(logo_path),
            support_url: brand.support_url.clone(),
            style,
            style_source,
            logo: brand.logo.clone(),
        }
    }

    /// The brand of a page rendered without the server's state at hand: the default one.
    pub(crate) fn fallback() -> Arc<Self> {
        static FALLBACK: LazyLock<Arc<PageBrand>> =
            LazyLock::new(|| Arc::new(PageBrand::new(&Brand::default())));
        Arc::clone(&FALLBACK)
    }
}

fn logo_path(logo: &Logo) -> String {
    format!("{}/logo-{}.{}", paths::BRAND, logo.version, logo.extension())
}

/// Lets every page's `<style>` block of brand colours apply: adds its hash to the policy's
/// `style-src`, which otherwise allows the stylesheet alone.
pub(crate) async fn allow_brand_style(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = AppState::of(request.request());
    let mut response = next.call(request).await?;
    // Answers without a page policy (introspection, tokens) are left as they are.
    if let Some(source) = state
        .as_deref()
        .and_then(|state| state.brand.style_source.as_deref())
    {
        pages::widen_policy(response.headers_mut(), "style-src", source);
    }
    Ok(response)
}

/// `GET /brand/{file}`: the logo, at an address naming its content's hash, so browsers keep it
/// for good and fetch a new one when the file changes.
pub(crate) async fn logo(state: web::Data<AppState>, file: web::Path<String>) -> HttpResponse {
    let brand = &state.brand;
    match (&brand.logo, &brand.logo_path) {
        (Some(logo), Some(path)) if path.rsplit('/').next() == Some(file.as_str()) => HttpResponse::Ok()
            .content_type(logo.content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            // An SVG opened on its own is a document: it may style itself, nothing more.
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            ))
            .body(logo.bytes.clone()),
        _ => HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    }
}
