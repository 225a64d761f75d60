-- Schema and seed data of the notes example service: the template database that every
-- target's database is cloned from. Deterministic: the same rows on every machine.

CREATE TABLE users (
    id            bigserial   PRIMARY KEY,
    username      text        NOT NULL UNIQUE,
    email         text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Web sessions (cookie ``sessionid``): anonymous ones (user_id null) carry the CSRF token of
-- the login and signup forms; logging in replaces the session with a new id and token.
CREATE TABLE sessions (
    id         text        PRIMARY KEY,
    user_id    bigint      REFERENCES users (id) ON DELETE CASCADE,
    csrf       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE TABLE notes (
    id         bigserial   PRIMARY KEY,
    slug       text        NOT NULL UNIQUE,
    author_id  bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notes_author_id ON notes (author_id, id);

CREATE TABLE comments (
    id         bigserial   PRIMARY KEY,
    note_id    bigint      NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    author_id  bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX comments_note_id ON comments (note_id, id);

-- 20 staging accounts (user staging-NN, password staging-pass-NN): the identities a replay can
-- log in with (examples/notes/accounts.csv). The hashes are pbkdf2_sha256 with fixed salts.
INSERT INTO users (username, email, password_hash) VALUES
    ('staging-01', 'staging-01@example.org', 'pbkdf2_sha256$1000$seed01$bf2c77321aa0255cecb5e54611db9553c54341b0d318827a865e240a6d2a3a1e'),
    ('staging-02', 'staging-02@example.org', 'pbkdf2_sha256$1000$seed02$4c0bca65d8234543ba02f2d586ae8b15788251dbc5fd9be432200efba08236f7'),
    ('staging-03', 'staging-03@example.org', 'pbkdf2_sha256$1000$seed03$7d495b5ecc18aae4907a419b3aa1eced14e98386f21d20b5af45eca651d6fbd3'),
    ('staging-04', 'staging-04@example.org', 'pbkdf2_sha256$1000$seed04$6d42d0a4555a2a7c06b0a1369da8597da0cec9236faa4b8db5b8b3bb6f9dbe5a'),
    ('staging-05', 'staging-05@example.org', 'pbkdf2_sha256$1000$seed05$086aa3164ea3e8ff351c5ce64b70b406dc8f71b5f5f27f609fa361365a5e2b94'),
    ('staging-06', 'staging-06@example.org', 'pbkdf2_sha256$1000$seed06$77c5e6cadb1a2bbcff76e1f1ae6d7c50c742e159acb212ee09aa2761ac14d765'),
    ('staging-07', 'staging-07@example.org', 'pbkdf2_sha256$1000$seed07$194131d5fb4adafc17f191b35b529715651036059b01ca39f2e070e8c6be73c4'),
    ('staging-08', 'staging-08@example.org', 'pbkdf2_sha256$1000$seed08$ab14b9164dd411e34ddec29d757a6b84e2d627d07ca94c9be1163e8eafc167fc'),
    ('staging-09', 'staging-09@example.org', 'pbkdf2_sha256$1000$seed09$344365cb1642fad5c15f2e62127cb71c5fe891751603db0c1163718e167d3cda'),
    ('staging-10', 'staging-10@example.org', 'pbkdf2_sha256$1000$seed10$bf0136fedca07f6ae11c04d606b0ddecc8f56e1765f1fe187976b6cc80aa3c8a'),
    ('staging-11', 'staging-11@example.org', 'pbkdf2_sha256$1000$seed11$d1f1473d33e828754cc4bcbb471682218490ba238752f77c0734242e1757186c'),
    ('staging-12', 'staging-12@example.org', 'pbkdf2_sha256$1000$seed12$77a1b5aec34cf42064a8fcc55d61a051107c8e0fcf819b3c32145308b7a6ac75'),
    ('staging-13', 'staging-13@example.org', 'pbkdf2_sha256$1000$seed13$339ddb8a12575f65a8bff5b36bec1d1fcf7ec7dc3b39958b4aab1d72609e54e4'),
    ('staging-14', 'staging-14@example.org', 'pbkdf2_sha256$1000$seed14$2cfe79175616bf855ce8487468ac5cc60536196a31fc8d02c4496a0bee4fe2be'),
    ('staging-15', 'staging-15@example.org', 'pbkdf2_sha256$1000$seed15$55d88082be07cf1d0252fac2e956518f28028ece14da841e91632a6c2c8d5911'),
    ('staging-16', 'staging-16@example.org', 'pbkdf2_sha256$1000$seed16$689239eb38dab9374d79d1ca9995e796936c2139bf7e5a542a5a1f782509a204'),
    ('staging-17', 'staging-17@example.org', 'pbkdf2_sha256$1000$seed17$1ffb5ba2a1807378d6cd7bf1d192de1f364a3ebc0ab45609a6761408a6c88cec'),
    ('staging-18', 'staging-18@example.org', 'pbkdf2_sha256$1000$seed18$4e79db28f9b1ea48517b2053ece5c5f10eac4a09755855a1bb1586a07bea49b4'),
    ('staging-19', 'staging-19@example.org', 'pbkdf2_sha256$1000$seed19$111f3084e268ac397b27557a488e670b0148528ae965c8dbeb5b3490bb2b7dfa'),
    ('staging-20', 'staging-20@example.org', 'pbkdf2_sha256$1000$seed20$7c6099d1e16a89d56ea2999f2c90f6d4e19190d91de570f2875536f6d5215cd4');

-- 100 notes by those accounts, at fixed times, with fixed slugs (welcome-note-001 ...).
INSERT INTO notes (slug, author_id, title, body, created_at, updated_at)
SELECT 'welcome-note-' || lpad(g::text, 3, '0'),
       1 + (g * 7) % 20,
       'Welcome note ' || g,
       'Seed note number ' || g || ' of the notes example.',
       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour',
       timestamptz '2026-01-01 00:00:00+00' + g * interval '1 hour'
FROM generate_series(1, 100) AS g;

-- 300 comments on them.
INSERT INTO comments (note_id, author_id, body, created_at)
SELECT 1 + (g * 13) % 100,
       1 + (g * 11) % 20,
       'Seed comment ' || g,
       timestamptz '2026-01-02 00:00:00+00' + g * interval '10 minutes'
FROM generate_series(1, 300) AS g;
