-- Images derived for mail from each article photo (mailer/articles/media_image.c):
-- the share's body size and the digest's thumbnail, upright, sRGB, resized and
-- without metadata. Each derived image is itself a row of `media` (content-
-- addressed like every image, so two photos that derive to the same bytes
-- share one row, and the base64 cache serves it too); this table says which
-- photo it was made from, for which use, and by which recipe. A recipe that
-- no longer matches the program's (another [media] jpeg_quality, a new
-- version) makes the image again on its next use.
-- Owner: mailer/articles (media_store.c). Databases from before this version
-- get their derived images from `mailer init` (after this migration) or on
-- first use when a message is planned.
CREATE TABLE media_derived (
    source_sha256  TEXT NOT NULL REFERENCES media(sha256) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('body', 'thumb')),
    recipe         TEXT NOT NULL,
    derived_sha256 TEXT NOT NULL REFERENCES media(sha256),
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (source_sha256, kind)
) WITHOUT ROWID;
CREATE INDEX media_derived_by_derived ON media_derived(derived_sha256);
