//! A small Chrome DevTools Protocol driver: headless Chromium on a fresh profile, pages driven by
//! CSS selectors and JavaScript, and a callback server standing in for a client's redirect URI.
//! Chromium is `chromium` on the `PATH`, or the program the `CHROMIUM` variable names.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::http::KeepAlive;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::Url;

/// How long a navigation, a wait or a callback may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// How long Chromium may take to answer one command, or to start.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// A cold Chromium start on two busy cores (the rest of the suite running beside it) has
/// taken close to a minute.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(25);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The browser-wide websocket: commands go out under the sink's lock, and one reader task hands
/// each answer to its waiting caller by `id` and keeps every event.
struct Connection {
    sink: tokio::sync::Mutex<SplitSink<Socket, Message>>,
    next_id: AtomicU64,
    /// `None` once the socket closed.
    pending: Mutex<Option<HashMap<u64, oneshot::Sender<Value>>>>,
    events: Mutex<Vec<Value>>,
}

impl Connection {
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match self.pending.lock().unwrap().as_mut() {
            Some(pending) => pending.insert(id, tx),
            None => return Err("the connection to Chromium is closed".into()),
        };
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let sent = self
            .sink
            .lock()
            .await
            .send(Message::text(message.to_string()))
            .await;
        sent.map_err(|e| format!("sending to Chromium: {e}"))?;
        let mut reply = match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => return Err("the connection to Chromium closed".into()),
            Err(_) => return Err(format!("no answer within {COMMAND_TIMEOUT:?}")),
        };
        match reply.get("error") {
            Some(error) => Err(error.to_string()),
            None => Ok(reply["result"].take()),
        }
    }

    async fn read(self: Arc<Self>, mut stream: SplitStream<Socket>) {
        while let Some(Ok(message)) = stream.next().await {
            let Message::Text(text) = message else { continue };
            let Ok(value) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if let Some(id) = value["id"].as_u64() {
                let waiter = self.pending.lock().unwrap().as_mut().and_then(|p| p.remove(&id));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(value);
                }
            } else {
                self.events.lock().unwrap().push(value);
            }
        }
        self.pending.lock().unwrap().take();
    }
}

/// The Chromium process, killed (and reaped) when dropped, before its profile is removed.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Headless Chromium on a profile of its own. Keep it alive as long as its pages.
pub struct Browser {
    conn: Arc<Connection>,
    _process: Process,
    _dir: tempfile::TempDir,
}

impl Browser {
    pub async fn launch() -> Browser {
        let program = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let dir = tempfile::tempdir().unwrap();
        // Chromium's log goes to a file, which never fills up and blocks it as a pipe would.
        let log_path = dir.path().join("chromium.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(&program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--ignore-certificate-errors", // the test servers' self-signed certificates
                "--remote-debugging-port=0",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{program}` ({e}): install Chromium (`apt-get install chromium`, \
                     as tests/run does) or set CHROMIUM to its path"
                )
            });
        let mut process = Process(child);
        let ws_url = devtools_url(&mut process.0, &log_path).await;
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        let (socket, _) = tokio_tungstenite::connect_async_with_config(ws_url.as_str(), Some(config), true)
            .await
            .unwrap_or_else(|e| panic!("connecting to Chromium at {ws_url}: {e}"));
        let (sink, stream) = socket.split();
        let conn = Arc::new(Connection {
            sink: tokio::sync::Mutex::new(sink),
            next_id: AtomicU64::new(1),
            pending: Mutex::new(Some(HashMap::new())),
            events: Mutex::new(Vec::new()),
        });
        tokio::spawn(conn.clone().read(stream));
        Browser {
            conn,
            _process: process,
            _dir: dir,
        }
    }

    /// A new tab on `about:blank`, with the Page, Runtime and Network domains enabled and
    /// scrollbars hidden.
    pub async fn new_page(&self) -> Page {
        let call = |method: &'static str, params| async move {
            let result = self.conn.call(None, method, params).await;
            result.unwrap_or_else(|e| panic!("{method} failed: {e}"))
        };
        let target = call("Target.createTarget", json!({ "url": "about:blank" })).await;
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = call(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        )
        .await;
        let page = Page {
            conn: self.conn.clone(),
            session: attached["sessionId"].as_str().unwrap().to_owned(),
            network_mark: Mutex::new(0),
        };
        for domain in ["Page", "Runtime", "Network"] {
            page.command(&format!("{domain}.enable"), json!({})).await;
        }
        // As on phones and Macs: the page keeps its width, and screenshots don't depend on
        // whether a screenshot beyond the viewport already dropped the scrollbar.
        page.command("Emulation.setScrollbarsHidden", json!({ "hidden": true }))
            .await;
        page
    }
}

/// Waits for `DevTools listening on ws://…` in Chromium's log.
async fn devtools_url(child: &mut Child, log_path: &Path) -> String {
    let deadline = Instant::now() + LAUNCH_TIMEOUT;
    loop {
        let log = std::fs::read_to_string(log_path).unwrap_or_default();
        if let Some((_, rest)) = log.split_once("DevTools listening on ")
            && let Some((url, _)) = rest.split_once(char::is_whitespace)
        {
            return url.to_owned();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("Chromium exited ({status}) before opening DevTools; its log:\n{log}");
        }
        if Instant::now() > deadline {
            panic!("Chromium did not open DevTools within {LAUNCH_TIMEOUT:?}; its log:\n{log}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One tab, driven over its own DevTools session.
pub struct Page {
    conn: Arc<Connection>,
    session: String,
    /// Where in the event list the network recording starts.
    network_mark: Mutex<usize>,
}

impl Page {
    /// A raw DevTools command on this page's session; its `result`. Panics on a protocol error.
    pub async fn command(&self, method: &str, params: Value) -> Value {
        let result = self.conn.call(Some(&self.session), method, params).await;
        result.unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    /// Evaluates a JavaScript expression, awaiting a promise; its value as JSON (`null` for
    /// `undefined`), or the exception's text.
    pub async fn try_eval(&self, js: &str) -> Result<Value, String> {
        let params = json!({
            "expression": js, "returnByValue": true, "awaitPromise": true, "userGesture": true,
        });
        let mut result = self
            .conn
            .call(Some(&self.session), "Runtime.evaluate", params)
            .await?;
        match result.get("exceptionDetails") {
            Some(details) => Err(details["exception"]["description"]
                .as_str()
                .unwrap_or(details["text"].as_str().unwrap_or("exception"))
                .to_owned()),
            None => Ok(result["result"]["value"].take()),
        }
    }

    /// [`Page::try_eval`], panicking on an exception.
    pub async fn eval(&self, js: &str) -> Value {
        self.try_eval(js)
            .await
            .unwrap_or_else(|e| panic!("evaluating `{js}` threw: {e}"))
    }

    /// Navigates and waits until the new document has loaded.
    pub async fn goto(&self, url: &str) {
        self.navigation(&format!("loading {url}"), async {
            let result = self.command("Page.navigate", json!({ "url": url })).await;
            if let Some(error) = result["errorText"].as_str() {
                panic!("navigating to {url} failed: {error}");
            }
        })
        .await;
    }

    /// Clicks the element (a submit button, a link) and waits until the document it leads to
    /// has loaded.
    pub async fn click_and_wait(&self, selector: &str) {
        self.navigation(
            &format!("the navigation after clicking {selector}"),
            self.click(selector),
        )
        .await;
    }

    /// Marks the current document, runs `action`, then waits for a document without the mark
    /// that has finished loading. (A mark on `document`, not `window`: a window may outlive
    /// its initial `about:blank` document.)
    async fn navigation(&self, what: &str, action: impl Future<Output = ()>) {
        self.eval("document.__usherOld = true").await;
        action.await;
        self.poll(what, "!document.__usherOld && document.readyState === 'complete'")
            .await;
    }

    /// Sets an input's value as typing would, firing `input` and `change`.
    pub async fn fill(&self, selector: &str, value: &str) {
        let value = json!(value);
        self.on_element(
            selector,
            &format!(
                "e.focus(); e.value = {value}; \
                 e.dispatchEvent(new Event('input', {{ bubbles: true }})); \
                 e.dispatchEvent(new Event('change', {{ bubbles: true }}))"
            ),
        )
        .await;
    }

    pub async fn click(&self, selector: &str) {
        self.on_element(selector, "e.click()").await;
    }

    /// The element's rendered text (`innerText`).
    pub async fn text(&self, selector: &str) -> String {
        let text = self.on_element(selector, "return e.innerText").await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `body` with `e` bound to the first element matching `selector`; panics if none does.
    async fn on_element(&self, selector: &str, body: &str) -> Value {
        let quoted = json!(selector);
        let js = format!(
            "(() => {{ const e = document.querySelector({quoted}); \
             if (!e) throw new Error('no element matches ' + {quoted} + ' on ' + location.href); \
             {body} }})()"
        );
        self.try_eval(&js)
            .await
            .unwrap_or_else(|e| panic!("on {selector}: {e}"))
    }

    pub async fn url(&self) -> String {
        self.eval("location.href")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn html(&self) -> String {
        let html = self.eval("document.documentElement.outerHTML").await;
        html.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the JavaScript expression is truthy.
    pub async fn wait_for(&self, condition: &str) {
        self.poll("waiting for a condition", condition).await;
    }

    /// Evaluates `condition` until it is truthy, riding out navigations (an evaluation may fail
    /// while one document replaces another). Panics after [`TIMEOUT`] with the page's address.
    async fn poll(&self, what: &str, condition: &str) {
        let deadline = Instant::now() + TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            let remaining = deadline.saturating_duration_since(Instant::now());
            last = match tokio::time::timeout(remaining, self.try_eval(condition)).await {
                Ok(Ok(value)) if truthy(&value) => return,
                Ok(Ok(value)) => format!("it was {value}"),
                Ok(Err(error)) => format!("it failed: {error}"),
                Err(_) => "Chromium did not answer".into(),
            };
            tokio::time::sleep(POLL).await;
        }
        let url = match tokio::time::timeout(Duration::from_secs(2), self.try_eval("location.href")).await {
            Ok(Ok(Value::String(url))) => url,
            _ => "an unknown address".into(),
        };
        panic!("timed out after {TIMEOUT:?}: {what} (`{condition}`: {last}); the page is at {url}");
    }

    /// Emulates a screen of `width`×`height` CSS pixels at scale 1, a phone's if `mobile`
    /// (pages without a `viewport` meta tag then lay out 980 pixels wide, as on phones).
    pub async fn set_viewport(&self, width: u32, height: u32, mobile: bool) {
        let params = json!({
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile,
        });
        self.command("Emulation.setDeviceMetricsOverride", params).await;
    }

    /// Writes a PNG of the whole page, beyond the viewport, to `path`.
    pub async fn screenshot(&self, path: impl AsRef<Path>) {
        let metrics = self.command("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        self.capture(path, 0.0, size["height"].as_f64().unwrap().ceil(), true)
            .await;
    }

    /// A PNG of what the viewport shows, where the page is scrolled to: unlike
    /// [`Page::screenshot`], it shows a right-to-left page where it stands (Chromium draws
    /// those shifted when it captures beyond the viewport).
    pub async fn screenshot_of_viewport(&self, path: impl AsRef<Path>) {
        let view = self.eval("[window.scrollY, window.innerHeight]").await;
        let (top, height) = (view[0].as_f64().unwrap(), view[1].as_f64().unwrap());
        self.capture(path, top, height, false).await;
    }

    async fn capture(&self, path: impl AsRef<Path>, top: f64, height: f64, beyond_viewport: bool) {
        let metrics = self.command("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let clip = json!({
            "x": 0, "y": top, "scale": 1,
            "width": size["width"].as_f64().unwrap().ceil(),
            "height": height.min(size["height"].as_f64().unwrap().ceil() - top),
        });
        let params = json!({ "format": "png", "captureBeyondViewport": beyond_viewport, "clip": clip });
        let shot = self.command("Page.captureScreenshot", params).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path.as_ref(), png).unwrap();
    }

    /// The cookies the current page would send, as DevTools describes them (`name`, `value`,
    /// `httpOnly`, `secure`, `sameSite`, …).
    pub async fn cookies(&self) -> Vec<Value> {
        let mut result = self.command("Network.getCookies", json!({})).await;
        serde_json::from_value(result["cookies"].take()).unwrap()
    }

    /// Starts counting network traffic afresh, for [`Page::network_bytes`].
    pub fn start_recording_network(&self) {
        let now = self.conn.events.lock().unwrap().len();
        *self.network_mark.lock().unwrap() = now;
    }

    /// The bytes received (headers and encoded bodies, redirects included) since
    /// [`Page::start_recording_network`] for the requests whose URL starts with `url_prefix`,
    /// once every such request has finished or failed.
    pub async fn network_bytes(&self, url_prefix: &str) -> u64 {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let (bytes, unfinished) = self.network_tally(url_prefix);
            if unfinished.is_empty() {
                return bytes.round() as u64;
            }
            if Instant::now() > deadline {
                panic!("requests still unfinished after {TIMEOUT:?}: {unfinished:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn network_tally(&self, url_prefix: &str) -> (f64, Vec<String>) {
        let mark = *self.network_mark.lock().unwrap();
        let events = self.conn.events.lock().unwrap();
        let mut bytes = 0.0;
        let mut open = HashMap::new();
        let mut matching = HashSet::new();
        for event in events[mark..]
            .iter()
            .filter(|e| e["sessionId"] == self.session.as_str())
        {
            let params = &event["params"];
            let id = params["requestId"].as_str().unwrap_or_default().to_owned();
            match event["method"].as_str().unwrap_or_default() {
                "Network.requestWillBeSent" => {
                    let redirect = &params["redirectResponse"];
                    if redirect["url"]
                        .as_str()
                        .is_some_and(|u| u.starts_with(url_prefix))
                    {
                        bytes += redirect["encodedDataLength"].as_f64().unwrap_or(0.0);
                    }
                    let url = params["request"]["url"].as_str().unwrap_or_default();
                    if url.starts_with(url_prefix) {
                        matching.insert(id.clone());
                        open.insert(id, url.to_owned());
                    } else {
                        matching.remove(&id);
                        open.remove(&id);
                    }
                }
                "Network.loadingFinished" => {
                    if matching.contains(&id) {
                        bytes += params["encodedDataLength"].as_f64().unwrap_or(0.0);
                    }
                    open.remove(&id);
                }
                "Network.loadingFailed" => {
                    open.remove(&id);
                }
                _ => {}
            }
        }
        (bytes, open.into_values().collect())
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// One request the callback server answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Absolute: `http://localhost:PORT` and the request target.
    pub url: Url,
    /// The raw body: `application/x-www-form-urlencoded` for a form post.
    pub body: String,
}

impl Received {
    /// The form fields of a urlencoded body.
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }

    /// A query parameter of the URL.
    pub fn query(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// A client application's redirect URI: an actix-web server on a free port of 127.0.0.1 that
/// records every request (but `/favicon.ico`) and answers it with a small page, one request per
/// connection. Dropping it stops the server.
pub struct CallbackServer {
    port: u16,
    received: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    server: ServerHandle,
}

const CALLBACK_PAGE: &str = "<p>callback received</p>";

impl CallbackServer {
    pub async fn start() -> CallbackServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::unbounded_channel();
        let recorder = web::Data::new(Recorder { port, received: tx });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(recorder.clone())
                .route(
                    "/favicon.ico",
                    web::to(|| async { HttpResponse::NotFound().finish() }),
                )
                .default_service(web::to(record))
        })
        .workers(1)
        .disable_signals()
        // Connection: close, and no deadline for a request on a connection Chromium opened
        // ahead of time.
        .keep_alive(KeepAlive::Disabled)
        .client_request_timeout(Duration::ZERO)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        CallbackServer {
            port,
            received: tokio::sync::Mutex::new(rx),
            server: handle,
        }
    }

    /// `http://localhost:PORT/callback`.
    pub fn url(&self) -> String {
        format!("http://localhost:{}/callback", self.port)
    }

    /// The next request received, in order of arrival; panics if none comes within [`TIMEOUT`].
    pub async fn next_request(&self) -> Received {
        let mut received = self.received.lock().await;
        match tokio::time::timeout(TIMEOUT, received.recv()).await {
            Ok(Some(request)) => request,
            _ => panic!(
                "no request reached the callback server {} within {TIMEOUT:?}",
                self.url()
            ),
        }
    }
}

impl Drop for CallbackServer {
    fn drop(&mut self) {
        crate::common::finish_in_drop(self.server.stop(false));
    }
}

/// Where the callback server's workers send what they receive.
struct Recorder {
    port: u16,
    received: mpsc::UnboundedSender<Received>,
}

/// Records a request and answers it with [`CALLBACK_PAGE`].
async fn record(request: HttpRequest, body: web::Bytes, recorder: web::Data<Recorder>) -> HttpResponse {
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |target| target.as_str());
    let _ = recorder.received.send(Received {
        method: request.method().as_str().to_owned(),
        url: Url::parse(&format!("http://localhost:{}{target}", recorder.port)).unwrap(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(CALLBACK_PAGE)
}
