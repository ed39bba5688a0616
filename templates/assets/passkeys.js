// Passkeys on Usher's pages. Progressive enhancement: without this script (or without
// WebAuthn) the pages work with email and password or a sign-in link.
//
// Markup contract:
//   form[data-passkey="sign-in"]   hidden fields ceremony + credential; button[data-passkey-start]
//                                  (hidden until supported); input[autocomplete~="webauthn"]
//                                  enables autofill (conditional UI).
//   form[data-passkey="register"]  hidden fields ceremony + credential; button[data-passkey-start]
//                                  starts registration (options from data-options-url).
//   input[name="passkey_offer"]    set to "1" when this device has a built-in authenticator,
//                                  so the server may offer a passkey after sign-in.
"use strict";
(() => {
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  const fromB64url = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  };
  const toB64url = (buffer) => {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  const csrfOf = (form) => form.querySelector('input[name="csrf"]').value;
  const fetchOptions = async (form) => {
    const body = new URLSearchParams({ csrf: csrfOf(form) });
    const response = await fetch(form.dataset.optionsUrl, { method: "POST", body, credentials: "same-origin" });
    if (!response.ok) throw new Error("options " + response.status);
    return response.json();
  };
  const showError = (form, message) => {
    const box = form.querySelector("[data-passkey-error]");
    if (box) { box.textContent = message; box.hidden = false; }
  };
  const submitWith = (form, ceremony, credential) => {
    form.elements.ceremony.value = ceremony;
    form.elements.credential.value = JSON.stringify(credential);
    form.submit();
  };

  const assertionJson = (credential) => ({
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: toB64url(credential.response.authenticatorData),
      clientDataJSON: toB64url(credential.response.clientDataJSON),
      signature: toB64url(credential.response.signature),
      userHandle: credential.response.userHandle ? toB64url(credential.response.userHandle) : null,
    },
    extensions: credential.getClientExtensionResults(),
  });
  const attestationJson = (credential) => ({
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: toB64url(credential.response.attestationObject),
      clientDataJSON: toB64url(credential.response.clientDataJSON),
      transports: credential.response.getTransports ? credential.response.getTransports() : [],
    },
    extensions: credential.getClientExtensionResults(),
  });

  const requestOptions = (publicKey) => ({
    ...publicKey,
    challenge: fromB64url(publicKey.challenge),
    allowCredentials: (publicKey.allowCredentials || []).map((c) => ({ ...c, id: fromB64url(c.id) })),
  });
  const creationOptions = (publicKey) => ({
    ...publicKey,
    challenge: fromB64url(publicKey.challenge),
    user: { ...publicKey.user, id: fromB64url(publicKey.user.id) },
    excludeCredentials: (publicKey.excludeCredentials || []).map((c) => ({ ...c, id: fromB64url(c.id) })),
  });

  const signIn = (form) => {
    const button = form.querySelector("[data-passkey-start]");
    let pending = null;
    const run = async (mediation) => {
      if (pending) pending.abort();
      const controller = new AbortController();
      pending = controller;
      const options = await fetchOptions(form);
      const request = { publicKey: requestOptions(options.publicKey), signal: controller.signal };
      if (mediation) request.mediation = mediation;
      const credential = await navigator.credentials.get(request);
      if (credential) submitWith(form, options.ceremony, assertionJson(credential));
    };
    if (button) {
      button.hidden = false;
      button.addEventListener("click", () => {
        run(null).catch((error) => {
          if (error.name !== "AbortError") showError(form, "No passkey was used. Try again, or sign in with your email.");
        });
      });
    }
    const autofill = document.querySelector('input[autocomplete~="webauthn"]');
    if (autofill && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
        if (available) run("conditional").catch(() => {});
      });
    }
  };

  const register = (form) => {
    const button = form.querySelector("[data-passkey-start]");
    if (!button) return;
    button.hidden = false;
    form.querySelectorAll("[data-passkey-fallback]").forEach((element) => { element.hidden = true; });
    button.addEventListener("click", async () => {
      try {
        const options = await fetchOptions(form);
        const credential = await navigator.credentials.create({ publicKey: creationOptions(options.publicKey) });
        if (credential) submitWith(form, options.ceremony, attestationJson(credential));
      } catch (error) {
        showError(form, "The passkey was not added. Try again, or use another device.");
      }
    });
  };

  document.querySelectorAll('form[data-passkey="sign-in"]').forEach(signIn);
  document.querySelectorAll('form[data-passkey="register"]').forEach(register);
  if (PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable) {
    PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable().then((available) => {
      if (!available) return;
      document.querySelectorAll('input[name="passkey_offer"]').forEach((input) => { input.value = "1"; });
    });
  }
})();
