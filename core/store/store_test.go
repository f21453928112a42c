package store

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemory(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	_, err := m.Get(ctx, "a")
	assert.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, m.Put(ctx, "token:1", []byte("v1")))
	require.NoError(t, m.Put(ctx, "other", []byte("v2")))
	v, err := m.Get(ctx, "token:1")
	require.NoError(t, err)
	assert.Equal(t, "v1", string(v))
	keys, _ := m.Keys(ctx, "token:")
	assert.Equal(t, []string{"token:1"}, keys)
	require.NoError(t, m.Delete(ctx, "token:1"))
	require.NoError(t, m.Delete(ctx, "absent"))
	_, err = m.Get(ctx, "token:1")
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestSealedRoundTripAndNoCleartext(t *testing.T) {
	ctx := context.Background()
	key, err := DeriveKey("secret-of-the-client", "/vendor/test/pos/1")
	require.NoError(t, err)
	inner := NewMemory()
	s, err := NewSealed(inner, key)
	require.NoError(t, err)
	plain := []byte(`{"access_token":"very-secret-access-token"}`)
	require.NoError(t, s.Put(ctx, "k", plain))
	raw, _ := inner.Get(ctx, "k")
	assert.False(t, bytes.Contains(raw, []byte("very-secret-access-token")), "backend must hold ciphertext only")
	got, err := s.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, plain, got)

	// Same plaintext twice gives different ciphertext (fresh nonce).
	require.NoError(t, s.Put(ctx, "k2", plain))
	raw2, _ := inner.Get(ctx, "k2")
	assert.NotEqual(t, raw, raw2)
}

func TestSealedDetectsCorruptionWrongKeyAndMovedValue(t *testing.T) {
	ctx := context.Background()
	inner := NewMemory()
	k1 := bytes.Repeat([]byte{1}, KeySize)
	k2 := bytes.Repeat([]byte{2}, KeySize)
	s1, _ := NewSealed(inner, k1)
	s2, _ := NewSealed(inner, k2)
	require.NoError(t, s1.Put(ctx, "a", []byte("hello")))

	_, err := s2.Get(ctx, "a")
	assert.True(t, errors.Is(err, ErrCorrupt), "wrong key: %v", err)

	raw, _ := inner.Get(ctx, "a")
	require.NoError(t, inner.Put(ctx, "b", raw)) // copied under another key
	_, err = s1.Get(ctx, "b")
	assert.ErrorIs(t, err, ErrCorrupt)

	raw[len(raw)-1] ^= 0xff
	require.NoError(t, inner.Put(ctx, "a", raw))
	_, err = s1.Get(ctx, "a")
	assert.ErrorIs(t, err, ErrCorrupt)

	require.NoError(t, inner.Put(ctx, "c", []byte("x")))
	_, err = s1.Get(ctx, "c")
	assert.ErrorIs(t, err, ErrCorrupt)

	_, err = s1.Get(ctx, "absent")
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestKeyValidation(t *testing.T) {
	_, err := NewSealed(NewMemory(), []byte("short"))
	assert.Error(t, err)
	_, err = DeriveKey("", "x")
	assert.Error(t, err)
	a, _ := DeriveKey("s", "device-1")
	b, _ := DeriveKey("s", "device-2")
	assert.Len(t, a, KeySize)
	assert.NotEqual(t, a, b, "two devices must not share a key")
}
