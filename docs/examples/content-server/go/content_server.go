// A content server that decides each request with Usher's tokens, with Go's standard library
// only:
//   - GET /segment/...: the access token checked locally against the JWKS (no call to Usher),
//     unless a webhook said the person's entitlements changed since it was issued
//   - GET /play/PRODUCT: introspection, entitlements and revocation as they are now
//   - POST /usher-events: Usher's entitlement change events, verified (Standard Webhooks)
//
// Run it with:
//
//	ISSUER=http://localhost:8080 CLIENT_ID=... CLIENT_SECRET=... \
//	USHER_WEBHOOK_SECRET=whsec_... PORT=9000 go run content_server.go
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	issuer     = os.Getenv("ISSUER")
	audience   = envOr("AUDIENCE", issuer) // the issuer, unless Usher sets access_token_audience
	httpClient = &http.Client{Timeout: 5 * time.Second}
)

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func getJSON(address string, into any) error {
	response, err := httpClient.Get(address)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", address, response.StatusCode)
	}
	return json.NewDecoder(response.Body).Decode(into)
}

// --- Local validation: RFC 9068 access tokens against the JWKS ---

type jwk struct {
	Kid, Kty, Alg, Crv, X, Y, N, E string
}

type publicKey struct {
	alg string
	key crypto.PublicKey
}

// jwksCache holds Usher's public keys by kid: kept for a minute (the JWKS's Cache-Control:
// max-age=60), fetched again at once for an unknown kid (a key rotation), but at most once
// per refetchCooldown, so tokens with made-up kids cannot make us hammer Usher.
type jwksCache struct {
	uri       string
	mutex     sync.Mutex
	keys      map[string]publicKey
	fetchedAt time.Time
}

const (
	jwksMaxAge      = 60 * time.Second
	refetchCooldown = 5 * time.Second
)

func (cache *jwksCache) key(kid string) (publicKey, error) {
	cache.mutex.Lock()
	defer cache.mutex.Unlock()
	age := time.Since(cache.fetchedAt)
	if _, known := cache.keys[kid]; age > jwksMaxAge || (!known && age > refetchCooldown) {
		var set struct{ Keys []jwk }
		if err := getJSON(cache.uri, &set); err != nil {
			return publicKey{}, err
		}
		keys := map[string]publicKey{}
		for _, key := range set.Keys {
			if parsed, err := parseJWK(key); err == nil {
				keys[key.Kid] = parsed
			}
		}
		cache.keys, cache.fetchedAt = keys, time.Now()
	}
	key, known := cache.keys[kid]
	if !known {
		return publicKey{}, fmt.Errorf("unknown kid %q", kid)
	}
	return key, nil
}

func parseJWK(key jwk) (publicKey, error) {
	number := func(text string) (*big.Int, error) {
		bytes, err := base64.RawURLEncoding.DecodeString(text)
		return new(big.Int).SetBytes(bytes), err
	}
	switch {
	case key.Kty == "EC" && key.Crv == "P-256":
		x, errX := number(key.X)
		y, errY := number(key.Y)
		if errX != nil || errY != nil || !elliptic.P256().IsOnCurve(x, y) {
			return publicKey{}, errors.New("bad EC key")
		}
		return publicKey{"ES256", &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}}, nil
	case key.Kty == "RSA":
		n, errN := number(key.N)
		e, errE := number(key.E)
		if errN != nil || errE != nil || !e.IsInt64() {
			return publicKey{}, errors.New("bad RSA key")
		}
		return publicKey{"RS256", &rsa.PublicKey{N: n, E: int(e.Int64())}}, nil
	}
	return publicKey{}, fmt.Errorf("unsupported key type %s", key.Kty)
}

// claims are the access token's claims a content server uses.
type claims struct {
	Iss      string          `json:"iss"`
	Sub      string          `json:"sub"`
	Aud      json.RawMessage `json:"aud"`
	Exp      int64           `json:"exp"`
	Iat      int64           `json:"iat"`
	Tier     *string         `json:"tier"`
	Features []string        `json:"features"`
	Ppv      []string        `json:"ppv"`
	EntVer   *int64          `json:"ent_ver"`
}

// verifyLocally returns the token's claims if Usher signed it as an access token for us and
// it has not expired.
func verifyLocally(jwks *jwksCache, token string) (*claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	var header struct{ Alg, Kid, Typ string }
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, err
	}
	if typ := strings.ToLower(header.Typ); typ != "at+jwt" && typ != "application/at+jwt" {
		return nil, errors.New("not an access token (RFC 9068 typ at+jwt)")
	}
	key, err := jwks.key(header.Kid)
	if err != nil {
		return nil, err
	}
	// The algorithm comes from our copy of the key, never from the token alone.
	if header.Alg != key.alg {
		return nil, errors.New("algorithm does not match the key")
	}
	signature, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch public := key.key.(type) {
	case *ecdsa.PublicKey: // a JWS ES256 signature is r and s, 32 bytes each
		if len(signature) != 64 || !ecdsa.Verify(public, digest[:],
			new(big.Int).SetBytes(signature[:32]), new(big.Int).SetBytes(signature[32:])) {
			return nil, errors.New("bad signature")
		}
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(public, crypto.SHA256, digest[:], signature) != nil {
			return nil, errors.New("bad signature")
		}
	}
	var parsed claims
	if err := decodeSegment(parts[1], &parsed); err != nil {
		return nil, err
	}
	if parsed.Iss != issuer {
		return nil, errors.New("wrong issuer")
	}
	if !hasAudience(parsed.Aud, audience) {
		return nil, errors.New("wrong audience")
	}
	if parsed.Exp <= time.Now().Unix() {
		return nil, errors.New("expired")
	}
	return &parsed, nil
}

func decodeSegment(segment string, into any) error {
	bytes, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		return err
	}
	return json.Unmarshal(bytes, into)
}

// hasAudience: aud is one string, or (in other issuers' tokens) a list of them.
func hasAudience(aud json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(aud, &many) == nil {
		for _, each := range many {
			if each == want {
				return true
			}
		}
	}
	return false
}

// --- Introspection: entitlements and revocation as they are now ---

type introspection struct {
	claims
	Active bool `json:"active"`
}

type unavailable struct{ retryAfter string }

func (err unavailable) Error() string {
	return "Usher unavailable, retry after " + err.retryAfter + " s"
}

func introspect(endpoint, token string) (*introspection, error) {
	request, _ := http.NewRequest(http.MethodPost, endpoint,
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	request.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	request.SetBasicAuth(url.QueryEscape(os.Getenv("CLIENT_ID")), url.QueryEscape(os.Getenv("CLIENT_SECRET")))
	response, err := httpClient.Do(request)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	if response.StatusCode == http.StatusServiceUnavailable {
		return nil, unavailable{response.Header.Get("Retry-After")}
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("introspection answered %d", response.StatusCode)
	}
	var answer introspection
	return &answer, json.NewDecoder(response.Body).Decode(&answer)
}

// --- Webhooks: Standard Webhooks verification ---

// verifyWebhook accepts a delivery (nil) when one of the v1 signatures in webhook-signature is
// the HMAC-SHA256, keyed with the whsec_ secret's bytes, of "<webhook-id>.<webhook-timestamp>.<body>",
// and the timestamp is within five minutes of our clock.
func verifyWebhook(secret string, header http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return errors.New("the secret is not whsec_ and base64")
	}
	id, timestamp := header.Get("webhook-id"), header.Get("webhook-timestamp")
	sent, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || id == "" {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	if skew := time.Now().Unix() - sent; skew > 300 || skew < -300 {
		return errors.New("timestamp more than five minutes off")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	expected := mac.Sum(nil)
	// Two signatures while Usher overlaps a replaced secret with the new one.
	for _, versioned := range strings.Fields(header.Get("webhook-signature")) {
		version, signature, _ := strings.Cut(versioned, ",")
		decoded, err := base64.StdEncoding.DecodeString(signature)
		if version == "v1" && err == nil && hmac.Equal(decoded, expected) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

type event struct {
	ID            string   `json:"id"`
	Event         string   `json:"event"`
	CreatedAt     int64    `json:"created_at"`
	UserID        *string  `json:"user_id"`
	AffectedUsers []string `json:"affected_users"`
	EntVer        *int64   `json:"ent_ver"`
}

// --- The server ---

type contentServer struct {
	jwks                  *jwksCache
	introspectionEndpoint string
	webhookSecret         string
	// What webhooks told us: per person, the entitlement version after their latest change,
	// and the time of the latest change to a tier or product they hold (no ent_ver in those).
	mutex        sync.Mutex
	latestEntVer map[string]int64
	changedAt    map[string]int64
}

func (server *contentServer) claimsMayBeStale(token *claims) bool {
	server.mutex.Lock()
	defer server.mutex.Unlock()
	var entVer int64
	if token.EntVer != nil {
		entVer = *token.EntVer
	}
	changed, known := server.changedAt[token.Sub]
	return entVer < server.latestEntVer[token.Sub] || (known && token.Iat <= changed)
}

func decision(decidedBy string, answer *claims) map[string]any {
	features, ppv := answer.Features, answer.Ppv
	if features == nil {
		features = []string{}
	}
	if ppv == nil {
		ppv = []string{}
	}
	return map[string]any{"decided_by": decidedBy, "sub": answer.Sub, "tier": answer.Tier,
		"features": features, "ppv": ppv, "ent_ver": answer.EntVer}
}

func reply(writer http.ResponseWriter, status int, body any) {
	writer.Header().Set("Content-Type", "application/json")
	writer.WriteHeader(status)
	json.NewEncoder(writer).Encode(body)
}

func failure(writer http.ResponseWriter, err error) {
	var retry unavailable
	if errors.As(err, &retry) {
		reply(writer, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	} else {
		reply(writer, http.StatusBadGateway, map[string]string{"error": "cannot reach Usher: " + err.Error()})
	}
}

func bearer(request *http.Request) string {
	scheme, token, _ := strings.Cut(request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return token
}

func (server *contentServer) segment(writer http.ResponseWriter, request *http.Request) {
	token := bearer(request)
	tokenClaims, err := verifyLocally(server.jwks, token)
	if err != nil {
		reply(writer, http.StatusUnauthorized, map[string]string{"error": err.Error()})
		return
	}
	if !server.claimsMayBeStale(tokenClaims) {
		reply(writer, http.StatusOK, decision("token", tokenClaims))
		return
	}
	// The person's entitlements changed since the token was issued: ask Usher.
	answer, err := introspect(server.introspectionEndpoint, token)
	if err != nil {
		failure(writer, err)
	} else if !answer.Active {
		reply(writer, http.StatusUnauthorized, map[string]string{"error": "token not active"})
	} else {
		reply(writer, http.StatusOK, decision("introspection", &answer.claims))
	}
}

func (server *contentServer) play(writer http.ResponseWriter, request *http.Request) {
	token := bearer(request)
	if token == "" {
		reply(writer, http.StatusUnauthorized, map[string]string{"error": "no bearer token"})
		return
	}
	answer, err := introspect(server.introspectionEndpoint, token)
	if err != nil {
		failure(writer, err)
		return
	}
	if !answer.Active {
		reply(writer, http.StatusUnauthorized, map[string]string{"error": "token not active"})
		return
	}
	product := strings.TrimPrefix(request.URL.Path, "/play/")
	status := http.StatusForbidden
	for _, owned := range answer.Ppv {
		if owned == product {
			status = http.StatusOK
		}
	}
	reply(writer, status, decision("introspection", &answer.claims))
}

func (server *contentServer) usherEvents(writer http.ResponseWriter, request *http.Request) {
	// The raw body as received: parsing and re-serialising it breaks the signature.
	body, err := io.ReadAll(io.LimitReader(request.Body, 1<<20))
	if err == nil {
		err = verifyWebhook(server.webhookSecret, request.Header, body)
	}
	var change event
	if err == nil {
		err = json.Unmarshal(body, &change)
	}
	if err != nil {
		fmt.Printf("refused webhook: %v\n", err)
		reply(writer, http.StatusBadRequest, map[string]string{"error": "bad signature"})
		return
	}
	// Delivery is at least once: applying an event twice changes nothing.
	server.mutex.Lock()
	for _, user := range change.AffectedUsers {
		if change.UserID != nil && *change.UserID == user && change.EntVer != nil {
			if *change.EntVer > server.latestEntVer[user] {
				server.latestEntVer[user] = *change.EntVer
			}
		} else if previous, known := server.changedAt[user]; !known || change.CreatedAt > previous {
			server.changedAt[user] = change.CreatedAt
		}
	}
	server.mutex.Unlock()
	entVer := "null"
	if change.EntVer != nil {
		entVer = strconv.FormatInt(*change.EntVer, 10)
	}
	fmt.Printf("event %s id=%s users=%s ent_ver=%s\n", change.Event, change.ID,
		strings.Join(change.AffectedUsers, ","), entVer)
	writer.WriteHeader(http.StatusNoContent)
}

func main() {
	var discovery struct {
		JwksURI               string `json:"jwks_uri"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
	}
	if err := getJSON(issuer+"/.well-known/openid-configuration", &discovery); err != nil {
		log.Fatal(err)
	}
	server := &contentServer{
		jwks:                  &jwksCache{uri: discovery.JwksURI},
		introspectionEndpoint: discovery.IntrospectionEndpoint,
		webhookSecret:         os.Getenv("USHER_WEBHOOK_SECRET"),
		latestEntVer:          map[string]int64{},
		changedAt:             map[string]int64{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/segment/", server.segment)
	mux.HandleFunc("/play/", server.play)
	mux.HandleFunc("/usher-events", server.usherEvents)
	listener, err := net.Listen("tcp", net.JoinHostPort(envOr("HOST", "127.0.0.1"), envOr("PORT", "9000")))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %d\n", listener.Addr().(*net.TCPAddr).Port)
	log.Fatal(http.Serve(listener, mux))
}
