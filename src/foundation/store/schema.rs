//! Table definitions shared by the SQLite and PostgreSQL migrations.

diesel::table! {
    clients (client_id) {
        client_id -> Text,
        name -> Text,
        secret_hash -> Nullable<Text>,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        scopes -> Text,
        first_party -> Bool,
        created_at -> BigInt,
        disabled_at -> Nullable<BigInt>,
        id_token_alg -> Text,
        resource_server -> Bool,
        pkce_optional -> Bool,
        logo_uri -> Nullable<Text>,
        verified -> Bool,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        name -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        is_admin -> Bool,
        email_verified -> Bool,
        created_at -> BigInt,
        disabled_at -> Nullable<BigInt>,
        locale -> Nullable<Text>,
        time_zone -> Nullable<Text>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        public_jwk -> Text,
        sealed_private_key -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        publish_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    revoked_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
        revoked_at -> BigInt,
    }
}

diesel::table! {
    change_events (id) {
        id -> BigInt,
        kind -> Text,
        subject -> Text,
        expires_at -> Nullable<BigInt>,
        created_at -> BigInt,
        tx -> BigInt,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        sid -> Text,
        user_id -> Text,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        expires_at -> BigInt,
        ended_at -> Nullable<BigInt>,
        user_agent -> Text,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> Text,
        sid -> Text,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        access_token_jti -> Nullable<Text>,
        access_token_expires_at -> Nullable<BigInt>,
        profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        client_id -> Text,
        user_id -> Text,
        sid -> Text,
        code_hash -> Text,
        scope -> Text,
        auth_time -> BigInt,
        amr -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        rotated_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        access_token_jti -> Nullable<Text>,
        access_token_expires_at -> Nullable<BigInt>,
        profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scopes -> Text,
        granted_at -> BigInt,
    }
}

diesel::joinable!(consents -> clients (client_id));
diesel::allow_tables_to_appear_in_same_query!(consents, clients);

diesel::table! {
    refresh_families (family_id) {
        family_id -> Text,
        created_at -> BigInt,
        last_used_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(refresh_families, refresh_tokens, clients);

diesel::table! {
    tiers (slug) {
        slug -> Text,
        name -> Text,
        rank -> Integer,
        features -> Text,
        max_streams -> Integer,
        created_at -> BigInt,
        updated_at -> BigInt,
        stream_limit_policy -> Text,
        max_devices -> Nullable<Integer>,
        max_profiles -> Integer,
        max_members -> Integer,
    }
}

diesel::table! {
    subscriptions (user_id) {
        user_id -> Text,
        tier_slug -> Text,
        status -> Text,
        current_period_end -> BigInt,
        external_ref -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    products (slug) {
        slug -> Text,
        title -> Text,
        starts_at -> Nullable<BigInt>,
        ends_at -> Nullable<BigInt>,
        rental_hours -> Nullable<Integer>,
        created_at -> BigInt,
        updated_at -> BigInt,
        household -> Bool,
    }
}

diesel::table! {
    household_members (member_id) {
        member_id -> Text,
        holder_id -> Text,
        joined_at -> BigInt,
    }
}

diesel::table! {
    household_invitations (id) {
        id -> Text,
        holder_id -> Text,
        email -> Text,
        link_hash -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    product_grants (id) {
        id -> Text,
        user_id -> Text,
        product_slug -> Text,
        valid_from -> BigInt,
        valid_until -> Nullable<BigInt>,
        external_ref -> Nullable<Text>,
        revoked_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    entitlement_versions (user_id) {
        user_id -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        actor -> Text,
        action -> Text,
        user_id -> Nullable<Text>,
        target -> Text,
        before -> Nullable<Text>,
        after -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_endpoints (client_id) {
        client_id -> Text,
        url -> Text,
        sealed_secret -> Text,
        created_at -> BigInt,
        previous_sealed_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        client_id -> Text,
        url -> Text,
        event_id -> Text,
        body -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<BigInt>,
        delivered_at -> Nullable<BigInt>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::joinable!(subscriptions -> tiers (tier_slug));
diesel::joinable!(product_grants -> products (product_slug));
diesel::allow_tables_to_appear_in_same_query!(subscriptions, tiers, product_grants, products);

diesel::table! {
    entitlement_sweep (id) {
        id -> Integer,
        swept_until -> BigInt,
    }
}

diesel::table! {
    totp_credentials (user_id) {
        user_id -> Text,
        sealed_secret -> Text,
        confirmed_at -> Nullable<BigInt>,
        last_used_step -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> Text,
        code_hash -> Text,
        used_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    login_challenges (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        carried_request -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        attempts -> Integer,
        first_factor -> Text,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        credential_id -> Text,
        name -> Text,
        credential -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webauthn_ceremonies (id_hash) {
        id_hash -> Text,
        purpose -> Text,
        user_id -> Nullable<Text>,
        state -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    sign_in_links (token_hash) {
        token_hash -> Text,
        email -> Text,
        user_id -> Nullable<Text>,
        carried_request -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    issued_access_tokens (jti) {
        jti -> Text,
        user_id -> Text,
        client_id -> Text,
        sid -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    device_authorizations (device_code_hash) {
        device_code_hash -> Text,
        user_code -> Text,
        client_id -> Text,
        scope -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        poll_interval -> BigInt,
        last_polled_at -> Nullable<BigInt>,
        status -> Text,
        user_id -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        amr -> Nullable<Text>,
        decided_at -> Nullable<BigInt>,
        profile_id -> Nullable<Text>,
    }
}

diesel::table! {
    shared_limits (limit_key) {
        limit_key -> Text,
        window_start -> BigInt,
        window_end -> BigInt,
        count -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(product_grants, users);
diesel::allow_tables_to_appear_in_same_query!(household_members, users);
diesel::allow_tables_to_appear_in_same_query!(household_invitations, users);
diesel::allow_tables_to_appear_in_same_query!(issued_access_tokens, clients);
diesel::allow_tables_to_appear_in_same_query!(issued_access_tokens, revoked_tokens);
diesel::allow_tables_to_appear_in_same_query!(clients, revoked_tokens);

diesel::table! {
    streams (id) {
        id -> Text,
        account_id -> Text,
        viewer_id -> Text,
        client_id -> Text,
        device_id -> Text,
        content -> Nullable<Text>,
        started_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    stream_accounts (account_id) {
        account_id -> Text,
        last_start_at -> BigInt,
    }
}

diesel::table! {
    stream_samples (minute) {
        minute -> BigInt,
        streams -> BigInt,
    }
}

diesel::table! {
    held_sign_ins (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        amr -> Text,
        continue_to -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    profiles (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        color -> Text,
        maturity -> Text,
        kids -> Bool,
        pin_hash -> Nullable<Text>,
        created_at -> BigInt,
    }
}
