//! What every request handler shares: the domain [`Core`] and what only HTTP needs.

use std::ops::Deref;
use std::sync::Arc;

use actix_web::{HttpRequest, web};

use crate::domain::core::Core;
use crate::domain::oauth::metadata::Metadata;
use crate::web::brand::PageBrand;

pub struct AppState {
    pub core: Arc<Core>,
    pub(crate) metadata: Metadata,
    /// Whether cookies are marked `Secure`: the issuer is served over https.
    pub secure_cookies: bool,
    pub(crate) brand: Arc<PageBrand>,
}

impl AppState {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        let metadata = Metadata::new(&core.issuer);
        let secure_cookies = core.issuer.starts_with("https://");
        let brand = Arc::new(PageBrand::new(&core.brand));
        Self {
            brand,
            core,
            metadata,
            secure_cookies,
        }
    }

    /// The state the server registered, for extractors (which see only the request).
    pub(crate) fn of(request: &HttpRequest) -> Option<Arc<Self>> {
        request
            .app_data::<web::Data<Self>>()
            .map(|data| data.clone().into_inner())
    }
}

/// Handlers reach the domain's parts (`state.store`, `state.clock`, …) directly.
impl Deref for AppState {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}
