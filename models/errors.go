// Package models holds the catalogue's domain types, their validation, and
// the store that reads and writes them through gorm.
package models

import (
	"errors"
	"fmt"
)

// Error codes, mapped to HTTP statuses by the handlers.
const (
	EINVALID  = "invalid"       // malformed request: 400
	ENOTFOUND = "not_found"     // 404
	EUNPROC   = "unprocessable" // failed validation: 422
	EINTERNAL = "internal"      // anything not meant for users: 500
)

// Error is an error meant for the user: Message is safe to show.
type Error struct {
	Code    string
	Message string
	// Fields holds per-field messages for form validation.
	Fields map[string]string
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, EINTERNAL for errors not meant for users.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ConflictError is returned by Update when the product changed since the
// form was opened. Current is the row as it is now.
type ConflictError struct {
	Current Product
}

// Error implements error.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("product %d is at version %d", e.Current.ID, e.Current.Version)
}
