#!/bin/sh
# Mints the committed `verify` seeds: tokens signed with our own test keys
# (tests/data/ed25519.pkcs8.pem = ed-1, tests/data/rsa2048.pkcs8.pem = rsa-1,
# tests/data/p384.sec1.pem = ec384-1), with the
# claims of the negative corpus's control token, so the fuzzer starts from tokens that pass
# every check with the `ed-1`/`rsa-1` keys of fuzz/src/lib.rs. Needs OpenSSL 3.
# Usage: fuzz/seeds/mint.sh   (from anywhere; rewrites fuzz/seeds/verify/*.jwt)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data="$here/../../tests/data"
out="$here/verify"
mkdir -p "$out"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
claims='{"iss":"https://issuer.example","aud":"device-1","sub":"u1","iat":1700000000,"nbf":1700000000,"exp":1700000600,"jti":"j-1"}'
mint() { # name alg kid-or-empty
  if [ -n "$3" ]; then h="{\"alg\":\"$2\",\"typ\":\"JWT\",\"kid\":\"$3\"}"; else h="{\"alg\":\"$2\",\"typ\":\"JWT\"}"; fi
  input="$(printf '%s' "$h" | b64url).$(printf '%s' "$claims" | b64url)"
  tmp=$(mktemp)
  printf '%s' "$input" > "$tmp"
  case "$2" in
    EdDSA) sig=$(openssl pkeyutl -sign -rawin -inkey "$data/ed25519.pkcs8.pem" -in "$tmp" | b64url) ;;
    RS*) sig=$(openssl dgst -sha"${2#RS}" -sign "$data/rsa2048.pkcs8.pem" "$tmp" | b64url) ;;
    ES384) # DER ECDSA-Sig-Value to JOSE's r || s, each 48 bytes
           der=$(mktemp)
           openssl dgst -sha384 -sign "$data/p384.sec1.pem" "$tmp" > "$der"
           sig=$(openssl asn1parse -inform DER -in "$der" | sed -n 's/.*INTEGER *:\([0-9A-F]*\).*/\1/p' |
                 while read -r v; do printf '%096s' "$v" | tr ' ' 0; done | xxd -r -p | b64url)
           rm -f "$der" ;;
    PS*) sig=$(openssl dgst -sha"${2#PS}" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
               -sign "$data/rsa2048.pkcs8.pem" "$tmp" | b64url) ;;
  esac
  rm -f "$tmp"
  printf '%s.%s' "$input" "$sig" > "$out/$1.jwt"
}
mint eddsa EdDSA ed-1
mint eddsa-nokid EdDSA ""
for a in RS256 RS384 RS512 PS256 PS384 PS512; do
  mint "$(echo $a | tr 'A-Z' 'a-z')" "$a" rsa-1
done
mint rs256-nokid RS256 ""
mint es384 ES384 ec384-1
