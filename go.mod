module github.com/libsecucard/libsecucard

go 1.26.8

require (
	github.com/go-stomp/stomp/v3 v3.1.5
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/stretchr/testify v1.12.1
	golang.org/x/oauth2 v0.37.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
