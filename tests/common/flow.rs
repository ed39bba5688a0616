//! Signing a person in over plain HTTP, as a browser without JavaScript would: a cookie jar,
//! the login form's CSRF token, and redirects followed by hand so tests can look at each.

use reqwest::header::LOCATION;
use usher::admin::users::{self, NewUser};

use super::TestServer;

pub const PASSWORD: &str = "correct horse battery staple";

/// Creates a person with [`PASSWORD`]; returns their id.
pub async fn create_user(server: &TestServer, email: &str) -> String {
    let now = server.state.clock.now();
    let new = NewUser {
        email: email.to_owned(),
        name: Some("Ada Lovelace".into()),
        password: Some(PASSWORD.into()),
        admin: false,
    };
    server
        .state
        .store
        .run(move |conn| users::create(conn, new, now))
        .await
        .expect("user created")
        .id
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = usher::crypto::random::token::<32>();
    let challenge = usher::oauth::grants::authorization_code::s256(&verifier);
    (verifier, challenge)
}

/// The value of the hidden `name` input of a page's form.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden field {name} in page:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].replace("&amp;", "&").replace("&#38;", "&")
}

/// One browser: its own cookie jar, redirects not followed.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn new(server: &TestServer) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("usher-tests/1.0")
            .build()
            .expect("http client");
        Self {
            http,
            base: server.url.clone(),
        }
    }

    fn absolute(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    pub async fn get(&self, path_or_url: &str) -> reqwest::Response {
        self.http
            .get(self.absolute(path_or_url))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.absolute(path))
            .form(form)
            .send()
            .await
            .expect("request sent")
    }

    /// Signs in on the login page that `page_html` is (or the plain login page when `None`);
    /// returns the response to the form.
    pub async fn sign_in(&self, page_html: Option<&str>, email: &str, password: &str) -> reqwest::Response {
        let html = match page_html {
            Some(html) => html.to_owned(),
            None => self.get("/login").await.text().await.expect("login page"),
        };
        let csrf = hidden_field(&html, "csrf");
        let request = hidden_field(&html, "request");
        self.post(
            "/login",
            &[
                ("csrf", csrf.as_str()),
                ("request", request.as_str()),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }

    /// Follows `303`/`302` answers until a page or a redirect away from the server.
    pub async fn follow(&self, mut response: reqwest::Response) -> reqwest::Response {
        while response.status().is_redirection() {
            let location = location(&response);
            if !location.starts_with('/') && !location.starts_with(&self.base) {
                return response;
            }
            response = self.get(&location).await;
        }
        response
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("ASCII location")
        .to_owned()
}
