"""umt's network side: unified vocabulary layout, translator network, codecs, bundle export, reference decoding."""
