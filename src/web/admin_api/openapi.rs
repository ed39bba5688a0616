//! `GET /admin/api/v1/openapi.json`: the API described by the handlers' own annotations, so
//! the document cannot drift from the code. Served without a token: it describes the API,
//! not anyone's data.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};

use crate::web::admin_api::error::{ApiError, ErrorBody};
use crate::web::admin_api::views::{
    ActiveProductView, AuditEntryView, EntitlementsView, GrantBody, GrantView, HouseholdInvitationView,
    HouseholdMemberView, HouseholdView, ProductBody, ProductView, ProfileBody, ProfileView, StreamView,
    SubscriptionBody, SubscriptionStatus, SubscriptionView, TierBody, TierView, UserView,
};
use crate::web::admin_api::{audit, households, products, profiles, streams, tiers, users};
use crate::web::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Usher admin API",
        version = "1",
        description = "Tiers, pay-per-view products, people's subscriptions and grants, and the \
            audit log. Every route takes a bearer access token from the client credentials grant \
            (`POST /oauth/token`) with scope `usher:admin`; the subscription and grant routes and \
            a person's entitlements also accept `usher:entitlements`, the scope for payment \
            services. Times are RFC 3339. Errors are `{\"error\", \"error_description\"}`; a 422 \
            names the field in its description.",
    ),
    paths(
        tiers::list,
        tiers::create,
        tiers::show,
        tiers::update,
        tiers::delete,
        products::list,
        products::create,
        products::show,
        products::update,
        products::delete,
        users::find,
        users::show,
        users::put_subscription,
        users::end_subscription,
        users::grant,
        users::revoke_grant,
        users::entitlements,
        profiles::list,
        profiles::create,
        profiles::update,
        profiles::delete,
        households::show,
        households::remove_member,
        streams::list,
        streams::stop,
        audit::list,
    ),
    components(schemas(
        ErrorBody,
        TierView,
        TierBody,
        ProductView,
        ProductBody,
        SubscriptionStatus,
        SubscriptionView,
        SubscriptionBody,
        GrantView,
        GrantBody,
        UserView,
        EntitlementsView,
        ActiveProductView,
        AuditEntryView,
        StreamView,
        ProfileView,
        ProfileBody,
        HouseholdView,
        HouseholdMemberView,
        HouseholdInvitationView,
    )),
    tags(
        (name = "tiers", description = "Subscription tiers: `usher:admin`"),
        (name = "products", description = "Pay-per-view products: `usher:admin`"),
        (name = "people", description = "A person's subscription and grants: \
            `usher:entitlements` or `usher:admin`; finding and showing people and their \
            entitlements: `usher:admin`"),
        (name = "audit", description = "The audit log: `usher:admin`"),
    ),
    modifiers(&Authorization)
)]
struct ApiDoc;

/// Adds the bearer scheme, and the 401 and 403 answers every protected operation may give.
struct Authorization;

impl Modify for Authorization {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let challenge = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(
                "The RFC 6750 challenge, e.g. `Bearer realm=\"usher\", error=\"invalid_token\"`",
            ))
            .build();
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .header("WWW-Authenticate", challenge.clone())
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.security_schemes.insert(
            "bearer".to_owned(),
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `POST /oauth/token` with `grant_type=client_credentials` \
                         and scope `usher:admin` or `usher:entitlements`",
                    ))
                    .build(),
            ),
        );
        components.responses.insert(
            "Unauthorized".to_owned(),
            error("No bearer token (`invalid_request`), or one that is not valid, has expired or was revoked (`invalid_token`)"),
        );
        components.responses.insert(
            "Forbidden".to_owned(),
            error("The token lacks the scope this route needs (`insufficient_scope`)"),
        );
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                if operation.security.is_none() {
                    continue;
                }
                let responses = &mut operation.responses.responses;
                responses.insert(
                    "401".to_owned(),
                    RefOr::Ref(Ref::from_response_name("Unauthorized")),
                );
                responses.insert("403".to_owned(), RefOr::Ref(Ref::from_response_name("Forbidden")));
            }
        }
    }
}

/// The document, with this server as the base of every path.
pub(crate) async fn document(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut document = ApiDoc::openapi();
    document.servers = Some(vec![Server::new(state.issuer.clone())]);
    let body = document
        .to_json()
        .map_err(|error| ApiError::server_error(&error))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        // Public like discovery, so API explorers served from elsewhere can load it.
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*")))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_protected_operation_documents_its_refusals() {
        let document = ApiDoc::openapi();
        for (path, item) in &document.paths.paths {
            for operation in [&item.get, &item.put, &item.post, &item.delete]
                .into_iter()
                .flatten()
            {
                assert!(operation.security.is_some(), "{path}");
                assert!(operation.responses.responses.contains_key("401"), "{path}");
            }
        }
        assert_eq!(document.paths.paths.len(), 17);
    }

    #[test]
    fn operation_ids_are_unique() {
        let document = ApiDoc::openapi();
        let mut ids: Vec<&str> = document
            .paths
            .paths
            .values()
            .flat_map(|item| [&item.get, &item.put, &item.post, &item.delete])
            .flatten()
            .filter_map(|operation| operation.operation_id.as_deref())
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!((ids.len(), count), (26, 26));
    }
}
