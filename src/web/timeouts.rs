//! Clients that send slowly. A new connection's first request must finish its headers within
//! `request_header_timeout_secs` (actix's `client_request_timeout`, set in `routes::serve`);
//! a request's body must then arrive within `request_body_timeout_secs`. Either way the client
//! gets a 408 and its connection is closed: a trickle of bytes cannot hold a request open.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpResponse};
use futures_core::Stream;
use tokio::time::Sleep;

use crate::web::state::AppState;

/// Gives the request's body a deadline. A handler reading a body that is not complete by
/// then gets an error, whatever it makes of it is replaced by a 408, and the connection is
/// closed: what is left of the body is not read.
pub(crate) async fn limit_body_time(
    mut request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(timeout) = request
        .app_data::<web::Data<AppState>>()
        .map(|state| Duration::from_secs(state.config.request_body_timeout_secs))
    else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    let body = request.take_payload();
    if matches!(body, Payload::None) {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let body = Rc::new(RefCell::new(body));
    let expired = Rc::new(Cell::new(false));
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Deadline {
        body: Rc::clone(&body),
        timer: Box::pin(tokio::time::sleep(timeout)),
        expired: Rc::clone(&expired),
    });
    request.set_payload(Payload::from(stream));
    let response = next.call(request).await?;
    if !expired.get() {
        return Ok(response.map_into_left_body());
    }
    tracing::info!(path = %response.request().path(), "request body not received in time");
    // actix drains a dropped chunked body before closing, for as long as the client trickles
    // it. A body still held when the answer is sent makes it close instead; an answer
    // without content is sent at once, while the answer (and what it holds) still exists.
    let mut answer = HttpResponse::RequestTimeout().force_close().finish();
    answer.extensions_mut().insert(UnreadBody { _held: body });
    Ok(response.into_response(answer).map_into_right_body())
}

/// The rest of a body that came too slowly, kept until the answer is sent.
struct UnreadBody {
    _held: Rc<RefCell<Payload>>,
}

/// A request body that ends in an error once its timer fires.
struct Deadline {
    body: Rc<RefCell<Payload>>,
    timer: Pin<Box<Sleep>>,
    expired: Rc<Cell<bool>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut *this.body.borrow_mut()).poll_next(cx) {
            return Poll::Ready(item);
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            this.expired.set(true);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}
