// A content server that decides each request with Usher's tokens.
//
// GET /segment/...    the access token checked locally against the JWKS (no call to Usher),
//                     unless a webhook said the person's entitlements changed since it was issued
// GET /play/PRODUCT   introspection: entitlements and revocation as they are now
// POST /usher-events  Usher's entitlement change events, verified (Standard Webhooks)
//
//   npm install jose@5 standardwebhooks
//   ISSUER=http://localhost:8080 CLIENT_ID=... CLIENT_SECRET=... \
//   USHER_WEBHOOK_SECRET=whsec_... PORT=9000 node content_server.js
'use strict';

const http = require('node:http');
const jose = require('jose');
const { Webhook } = require('standardwebhooks');

const ISSUER = process.env.ISSUER;
// The issuer, unless Usher's operator set access_token_audience.
const AUDIENCE = process.env.AUDIENCE || ISSUER;
const client = `${encodeURIComponent(process.env.CLIENT_ID)}:${encodeURIComponent(process.env.CLIENT_SECRET)}`;
const BASIC_AUTH = `Basic ${Buffer.from(client).toString('base64')}`;
const webhook = new Webhook(process.env.USHER_WEBHOOK_SECRET);

class Unavailable extends Error {}

async function main() {
  const discovery = await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json();
  // Usher's public keys by kid: kept for a minute (the JWKS's Cache-Control: max-age=60),
  // fetched again at once for an unknown kid (a key rotation), but at most once per 5 s, so
  // tokens with made-up kids cannot make us hammer Usher.
  const jwks = jose.createRemoteJWKSet(new URL(discovery.jwks_uri), {
    cacheMaxAge: 60_000,
    cooldownDuration: 5_000,
  });

  // The token's claims if Usher signed it as an access token for us and it has not expired.
  // jose takes the algorithm from the key the kid names, and checks typ, iss, aud and exp.
  async function verifyLocally(token) {
    const { payload } = await jose.jwtVerify(token, jwks, {
      typ: 'at+jwt',
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ['ES256', 'RS256'],
      requiredClaims: ['exp', 'iat', 'sub'],
    });
    return payload;
  }

  async function introspect(token) {
    const response = await fetch(discovery.introspection_endpoint, {
      method: 'POST',
      headers: { authorization: BASIC_AUTH },
      body: new URLSearchParams({ token }),
    });
    if (response.status === 503) {
      throw new Unavailable(response.headers.get('retry-after') || '2');
    }
    if (!response.ok) throw new Error(`introspection answered ${response.status}`);
    return response.json();
  }

  // What webhooks told us: per person, the entitlement version after their latest change,
  // and the time of the latest change to a tier or product they hold (no ent_ver in those).
  const latestEntVer = new Map();
  const changedAt = new Map();
  const claimsMayBeStale = (claims) =>
    (claims.ent_ver ?? 0) < (latestEntVer.get(claims.sub) ?? 0) ||
    claims.iat <= (changedAt.get(claims.sub) ?? -1);

  const decision = (decidedBy, answer) => ({
    decided_by: decidedBy,
    sub: answer.sub,
    tier: answer.tier ?? null,
    features: answer.features ?? [],
    ppv: answer.ppv ?? [],
    ent_ver: answer.ent_ver ?? null,
  });

  async function decide(request) {
    const [scheme, token] = (request.headers.authorization || '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) return [401, { error: 'no bearer token' }];
    if (request.url.startsWith('/segment/')) {
      let claims;
      try {
        claims = await verifyLocally(token);
      } catch (error) {
        return [401, { error: error.message }];
      }
      if (!claimsMayBeStale(claims)) return [200, decision('token', claims)];
      // The person's entitlements changed since the token was issued: ask Usher.
      const answer = await introspect(token);
      if (!answer.active) return [401, { error: 'token not active' }];
      return [200, decision('introspection', answer)];
    }
    if (request.url.startsWith('/play/')) {
      const answer = await introspect(token);
      if (!answer.active) return [401, { error: 'token not active' }];
      const product = request.url.slice('/play/'.length);
      return [(answer.ppv ?? []).includes(product) ? 200 : 403, decision('introspection', answer)];
    }
    return [404, { error: 'not found' }];
  }

  function receiveEvent(body, headers) {
    let event;
    try {
      // The raw body as received: parsing and re-serialising it breaks the signature.
      event = webhook.verify(body, headers);
    } catch (error) {
      console.log(`refused webhook: ${error.message}`);
      return [400, { error: 'bad signature' }];
    }
    // Delivery is at least once: applying an event twice changes nothing.
    for (const user of event.affected_users) {
      if (user === event.user_id && event.ent_ver != null) {
        latestEntVer.set(user, Math.max(latestEntVer.get(user) ?? 0, event.ent_ver));
      } else {
        changedAt.set(user, Math.max(changedAt.get(user) ?? -1, event.created_at));
      }
    }
    console.log(
      `event ${event.event} id=${event.id} users=${event.affected_users.join(',')} ent_ver=${event.ent_ver ?? null}`,
    );
    return [204, null];
  }

  const server = http.createServer(async (request, response) => {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    let status, body;
    try {
      [status, body] =
        request.method === 'POST' && request.url === '/usher-events'
          ? receiveEvent(Buffer.concat(chunks).toString('utf8'), request.headers)
          : await decide(request);
    } catch (error) {
      [status, body] =
        error instanceof Unavailable
          ? [503, { error: `Usher unavailable, retry after ${error.message} s` }]
          : [502, { error: `cannot reach Usher: ${error.message}` }];
    }
    if (body === null) {
      response.writeHead(status).end();
    } else {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    }
  });
  server.listen(Number(process.env.PORT || 9000), process.env.HOST || '127.0.0.1', () => {
    console.log(`listening on ${server.address().port}`);
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
