#!/bin/sh
# gen-grpc.sh regenerates agent/grpcapi/inferencepb from the Open Inference
# Protocol's gRPC specification, spec/oip/open_inference_grpc.proto (kept
# unchanged; it names no Go package, so the M option gives it one), and
# spec/oip/model_repository.proto and model_statistics.proto. The
# generated code is committed; CI does not run this. Needs protoc (Debian:
# apt-get install protobuf-compiler) and the Go plugins:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
set -eu
cd "$(dirname "$0")/.."
pkg=github.com/edged-dev/edged/agent/grpcapi/inferencepb
protoc -I spec/oip \
	--go_out=agent/grpcapi/inferencepb --go_opt=paths=source_relative --go_opt=Mopen_inference_grpc.proto=$pkg \
	--go-grpc_out=agent/grpcapi/inferencepb --go-grpc_opt=paths=source_relative --go-grpc_opt=Mopen_inference_grpc.proto=$pkg \
	open_inference_grpc.proto
# The model repository and statistics extensions' messages (Triton's, not
# in the Open Inference Protocol's file): messages only, the methods are
# added by hand.
protoc -I spec/oip \
	--go_out=agent/grpcapi/inferencepb --go_opt=paths=source_relative \
	--go_opt=Mmodel_repository.proto=$pkg --go_opt=Mmodel_statistics.proto=$pkg \
	model_repository.proto model_statistics.proto
