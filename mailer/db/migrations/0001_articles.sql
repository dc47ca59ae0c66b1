-- Articles pushed by the CMS and their photos.
-- Owner: mailer/articles (articles_store.c, media_store.c).

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Image bytes, content-addressed: one row per distinct image whatever the
-- number of articles that use it. `b64` caches the MIME base64 form (76-column
-- lines, CRLF) so a send never encodes the same photo twice.
CREATE TABLE media (
    sha256       TEXT PRIMARY KEY,          -- hex SHA-256 of bytes
    content_type TEXT NOT NULL,             -- sniffed from the bytes, never the name
    size         INTEGER NOT NULL,
    width        INTEGER,
    height       INTEGER,
    bytes        BLOB NOT NULL,
    b64          BLOB,
    created_at   INTEGER NOT NULL
);

CREATE TABLE articles (
    id               TEXT PRIMARY KEY,      -- the CMS's id, e.g. tin-pccc-20211005
    url              TEXT NOT NULL,
    title            TEXT NOT NULL,
    category         TEXT NOT NULL DEFAULT '',
    author           TEXT NOT NULL DEFAULT '',
    published_at     INTEGER NOT NULL,      -- seconds since the epoch
    published_offset INTEGER NOT NULL DEFAULT 0, -- minutes east of UTC as given
    summary          TEXT NOT NULL DEFAULT '',
    body_html        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX articles_by_published ON articles(published_at);
CREATE INDEX articles_by_category ON articles(category, published_at);

CREATE TABLE article_images (
    article_id   TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,          -- order in the JSON, from 0
    src          TEXT NOT NULL,             -- as written in the JSON and in body_html
    media_sha256 TEXT NOT NULL REFERENCES media(sha256),
    filename     TEXT NOT NULL,             -- ASCII name for the MIME part
    caption      TEXT NOT NULL DEFAULT '',
    alt          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (article_id, position)
) WITHOUT ROWID;
CREATE INDEX article_images_by_media ON article_images(media_sha256);
