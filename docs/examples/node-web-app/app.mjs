// A web app that signs people in with Usher: openid-client v6, express and a session cookie.
// docs/integration.md (section 5) explains it; README.md runs it against a local server.
//
//   npm ci
//   CLIENT_ID=… CLIENT_SECRET=… node app.mjs     # from `usher client create --json`
//
// USHER_ISSUER (default http://localhost:8080) is the server; APP_URL (default
// http://localhost:3000) is where this app is reached, its redirect URI being APP_URL/callback.
import { randomBytes } from 'node:crypto';
import express from 'express';
import session from 'express-session';
import * as client from 'openid-client';

const ISSUER = new URL(process.env.USHER_ISSUER ?? 'http://localhost:8080');
const APP = new URL(process.env.APP_URL ?? 'http://localhost:3000');
const REDIRECT_URI = new URL('/callback', APP).href;
const SIGNED_OUT_URI = new URL('/', APP).href;
const SCOPE = 'openid profile email offline_access';
const { CLIENT_ID, CLIENT_SECRET } = process.env;
if (!CLIENT_ID || !CLIENT_SECRET) {
  console.error('Set CLIENT_ID and CLIENT_SECRET to the output of `usher client create --json`.');
  process.exit(1);
}

// openid-client v6 talks only to https:// servers. For a development server on this machine,
// http:// is allowed explicitly; any other http:// issuer is still refused.
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];
const localDevelopment = ISSUER.protocol === 'http:' && LOOPBACK.includes(ISSUER.hostname);

// Reads /.well-known/openid-configuration and checks that it names ISSUER. The secret goes in
// the token request's body (client_secret_post, v6's default); Usher also takes Basic.
const config = await client.discovery(
  ISSUER,
  CLIENT_ID,
  CLIENT_SECRET,
  undefined,
  localDevelopment ? { execute: [client.allowInsecureRequests] } : undefined,
);

const app = express();
app.use(
  session({
    // Sessions live in memory (express-session's MemoryStore): use a real store in production.
    secret: process.env.SESSION_SECRET ?? randomBytes(32).toString('hex'),
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: APP.protocol === 'https:' },
  }),
);

app.get('/login', async (req, res) => {
  // A new PKCE verifier, state and nonce for every sign-in, kept in this browser's session.
  const pending = {
    codeVerifier: client.randomPKCECodeVerifier(),
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
  req.session.pending = pending;
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
  });
  res.redirect(url.href);
});

app.get('/callback', async (req, res) => {
  const pending = req.session.pending;
  delete req.session.pending;
  if (!pending) return res.status(400).send(page('No sign-in in progress. <a href="/login">Sign in</a>'));
  let tokens;
  try {
    // Checks state and RFC 9207's iss, redeems the code with the verifier, and verifies the
    // ID token: signature against the JWKS, iss, aud, exp, nonce.
    tokens = await client.authorizationCodeGrant(config, new URL(req.originalUrl, APP), {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
  } catch (error) {
    if (error instanceof client.AuthorizationResponseError) {
      // The person pressed Deny (access_denied), or the request was refused.
      return res.status(400).send(page(`Sign-in failed: ${escape(error.error)}. <a href="/login">Try again</a>`));
    }
    throw error;
  }
  req.session.tokens = keep(tokens);
  req.session.claims = tokens.claims();
  res.redirect('/');
});

app.get('/', async (req, res) => {
  if (!req.session.tokens) return res.send(page('<h1>Not signed in</h1><p><a href="/login">Sign in</a></p>'));
  let userinfo;
  try {
    userinfo = await client.fetchUserInfo(config, await freshAccessToken(req), req.session.claims.sub);
  } catch (error) {
    if (error instanceof client.ResponseBodyError && error.error === 'invalid_grant') {
      // The refresh token was revoked, reused or expired: sign in again.
      return req.session.destroy(() => res.redirect('/'));
    }
    throw error;
  }
  const who = userinfo.name ?? userinfo.email ?? userinfo.sub;
  res.send(
    page(`<h1>Signed in as ${escape(who)}</h1>
<h2>ID token claims</h2>
<pre id="id-token-claims">${escape(JSON.stringify(req.session.claims, null, 2))}</pre>
<h2>Userinfo</h2>
<pre id="userinfo">${escape(JSON.stringify(userinfo, null, 2))}</pre>
<p><a href="/logout">Sign out</a></p>`),
  );
});

app.get('/logout', async (req, res) => {
  const tokens = req.session.tokens;
  if (!tokens) return res.redirect('/');
  // Revoking the refresh token ends it and the access tokens issued with it.
  await client.tokenRevocation(config, tokens.refreshToken);
  // Then end the session at Usher too; it sends the browser back to SIGNED_OUT_URI.
  const logout = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.idToken,
    post_logout_redirect_uri: SIGNED_OUT_URI,
  });
  req.session.destroy(() => res.redirect(logout.href));
});

// Refreshes shortly before the access token expires, and stores the rotated refresh token
// at once: the one just used is retired.
async function freshAccessToken(req) {
  const tokens = req.session.tokens;
  if (tokens.expiresAt - 30 > Date.now() / 1000) return tokens.accessToken;
  const refreshed = await client.refreshTokenGrant(config, tokens.refreshToken);
  req.session.tokens = keep(refreshed, tokens.idToken);
  return refreshed.access_token;
}

function keep(response, previousIdToken) {
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    idToken: response.id_token ?? previousIdToken,
    expiresAt: Date.now() / 1000 + (response.expiresIn() ?? 0),
  };
}

function page(body) {
  return `<!doctype html><html lang="en"><meta charset="utf-8"><title>Example app</title>${body}</html>`;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// PORT for an app behind a proxy that terminates TLS; otherwise APP_URL's port.
app.listen(Number(process.env.PORT || APP.port || 80), () => {
  console.log(`Example app at ${APP.origin}, signing in with ${ISSUER.origin}`);
});
