# Photos made fit for mail (mailer/articles/media_image.c): camera-sized
# JPEG with EXIF orientation and GPS, CMYK, PNG with alpha, animated GIF,
# WebP, a decompression bomb and a truncated file, through the built mailer
# to the test SMTP server; the received image parts checked with exiftool and
# ImageMagick; the seven-photo share and the sample digest under their sizes;
# the upgrade of a database without derived images.
mailer_script_test(media.photos media/test_images.py LABELS integration TIMEOUT 300)
