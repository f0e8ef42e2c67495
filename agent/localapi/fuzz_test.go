package localapi
