//! Signing a person in over plain HTTP, as a browser without JavaScript would: a cookie jar,
//! the login form's CSRF token, and redirects followed by hand so tests can look at each.

use reqwest::header::LOCATION;
use usher::domain::identity::users::{self, NewUser};

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
    let verifier = usher::foundation::crypto::random::token::<32>();
    let challenge = usher::domain::oauth::grants::authorization_code::s256(&verifier);
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
        Self::with_client(server, reqwest::Client::builder(), "usher-tests/1.0")
    }

    /// A browser whose requests come from `address`, a loopback address of its own
    /// (127.x.y.z): another person, on another network when `x.y` differs.
    pub fn from_address(server: &TestServer, address: &str) -> Self {
        let address: std::net::IpAddr = address.parse().expect("an IP address");
        Self::with_client(
            server,
            reqwest::Client::builder().local_address(address),
            "usher-tests/1.0",
        )
    }

    /// A browser that names itself `user_agent`, as the account page's device list shows it.
    pub fn with_user_agent(server: &TestServer, user_agent: &str) -> Self {
        Self::with_client(server, reqwest::Client::builder(), user_agent)
    }

    fn with_client(server: &TestServer, builder: reqwest::ClientBuilder, user_agent: &str) -> Self {
        let http = builder
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent)
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

/// Signs `email` in to a first-party `client` (registered with redirect URI
/// `https://app.example/callback`) through the authorization code flow with PKCE, and returns
/// the token response.
pub async fn person_tokens(
    server: &TestServer,
    client: &usher::domain::oauth::clients::CreatedClient,
    email: &str,
    scope: &str,
) -> serde_json::Value {
    person_tokens_in(&Browser::new(server), server, client, email, scope).await
}

/// [`person_tokens`] in `browser`, which keeps the session the sign-in made.
pub async fn person_tokens_in(
    browser: &Browser,
    server: &TestServer,
    client: &usher::domain::oauth::clients::CreatedClient,
    email: &str,
    scope: &str,
) -> serde_json::Value {
    const REDIRECT: &str = "https://app.example/callback";
    let (verifier, challenge) = pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "s")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let login = browser.get(&format!("/oauth/authorize?{query}")).await;
    let html = login.text().await.expect("login page");
    let signed_in = browser.sign_in(Some(&html), email, PASSWORD).await;
    let redirect = browser.follow(signed_in).await;
    let location = location(&redirect);
    let code = url::Url::parse(&location)
        .expect("redirect to the app")
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code.into_owned())
        .expect("a code: the client must be first-party");
    let response = super::post_form(
        &server.endpoint("/oauth/token"),
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(response.status(), 200, "code exchange");
    response.json().await.expect("token response")
}

/// A first-party web app allowed every user scope, redirecting to `https://app.example/callback`.
pub fn first_party_app() -> usher::domain::oauth::clients::NewClient {
    usher::domain::oauth::clients::NewClient {
        name: "Streamly".into(),
        redirect_uris: vec!["https://app.example/callback".into()],
        first_party: true,
        ..usher::domain::oauth::clients::NewClient::default()
    }
}
