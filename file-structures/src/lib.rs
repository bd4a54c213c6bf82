//! Card layouts as data: national structure, local extensions, field codecs, personalisation.
