// Package auth issues and verifies the adapter's JWTs (PROTOCOLS.md section 1): the pinned
// algorithm, the required claims, the account check and revocation. HTTP handlers never parse
// tokens; the middleware here puts verified claims in the request context.
package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLen is the shortest HS256 secret accepted (PROTOCOLS.md: at least 32 bytes).
const MinSecretLen = 32

// SecretFile is the name of the generated HS256 secret inside the data dir.
const SecretFile = "jwt.secret"

// Keys is the one signing algorithm the adapter accepts, with its keys. The parser is pinned to
// Alg: a token that names any other algorithm (including "none") is refused.
type Keys struct {
	Alg    string
	sign   any
	verify any
	method jwt.SigningMethod
}

// HS256 returns HMAC-SHA256 keys for secret.
func HS256(secret []byte) (Keys, error) {
	if len(secret) < MinSecretLen {
		return Keys{}, fmt.Errorf("jwt secret is %d bytes, at least %d are required", len(secret), MinSecretLen)
	}
	return Keys{Alg: "HS256", sign: secret, verify: secret, method: jwt.SigningMethodHS256}, nil
}

// FromPEM returns RS256 or EdDSA keys from a PEM-encoded PKCS#8 (or PKCS#1 RSA) private key.
func FromPEM(alg string, pemBytes []byte) (Keys, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return Keys{}, errors.New("jwt key file holds no PEM block")
	}
	var key any
	var err error
	if block.Type == "RSA PRIVATE KEY" {
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return Keys{}, fmt.Errorf("jwt key file: %w", err)
	}
	switch alg {
	case "RS256":
		k, ok := key.(*rsa.PrivateKey)
		if !ok {
			return Keys{}, errors.New("jwt key file: RS256 needs an RSA private key")
		}
		return Keys{Alg: alg, sign: k, verify: k.Public(), method: jwt.SigningMethodRS256}, nil
	case "EdDSA":
		k, ok := key.(ed25519.PrivateKey)
		if !ok {
			return Keys{}, errors.New("jwt key file: EdDSA needs an Ed25519 private key")
		}
		return Keys{Alg: alg, sign: k, verify: k.Public().(crypto.PublicKey), method: jwt.SigningMethodEdDSA}, nil
	}
	return Keys{}, fmt.Errorf("jwt algorithm %q is not supported (HS256, RS256, EdDSA)", alg)
}

// LoadOrCreateSecret returns the HS256 secret stored in dir, creating a random one (mode 0600)
// on first use. Two processes racing to create it end with the same secret.
func LoadOrCreateSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, SecretFile)
	if b, err := os.ReadFile(path); err == nil {
		if len(b) < MinSecretLen {
			return nil, fmt.Errorf("%s is %d bytes, at least %d are required", path, len(b), MinSecretLen)
		}
		return b, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	secret := make([]byte, 48)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	// Write a complete file under a temporary name, then link it into place: a process racing
	// us (the CLI next to a first start) never reads a half-written secret, and the loser of the
	// race uses the winner's.
	tmp, err := os.CreateTemp(dir, SecretFile+".*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(secret); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return LoadOrCreateSecret(dir)
	} else if err != nil {
		return nil, err
	}
	return secret, nil
}
