// A plain JavaScript client, as a wallet would be written: protobufjs encodes a signed token transfer
// straight from the chain's .proto files and tweetnacl signs it. protobufjs writes every field it is
// given, defaults included (`nonce: 0` as `10 00`), which is a valid encoding the signer chose.
//
//   node sign_transfer.js PROTO_ROOT SEED_HEX GENESIS_HEX CALL_INDEX DEST_HEX AMOUNT_HEX NONCE
//
// prints JSON: {"extrinsic": hex of the serialized Extrinsic, "body": hex of the signed body}
"use strict";
const path = require("path");
const protobuf = require("protobufjs");
const nacl = require("tweetnacl");

const [protoRoot, seedHex, genesisHex, callIndex, destHex, amountHex, nonce] = process.argv.slice(2);
const hex = (s) => Buffer.from(s, "hex");

const root = new protobuf.Root();
// the chain's files from PROTO_ROOT; google/protobuf/descriptor.proto (field options) from protobufjs
root.resolvePath = (_origin, target) => target.startsWith("google/protobuf/")
  ? path.join(path.dirname(require.resolve("protobufjs/package.json")), target)
  : path.join(protoRoot, target);
root.loadSync(["payable/runtime/v1/extrinsic.proto", "payable/token/v1/token.proto"], { keepCase: true });
const Transfer = root.lookupType("payable.token.v1.Transfer");
const ExtrinsicBody = root.lookupType("payable.runtime.v1.ExtrinsicBody");
const Extrinsic = root.lookupType("payable.runtime.v1.Extrinsic");

const keys = nacl.sign.keyPair.fromSeed(hex(seedHex));
const args = Transfer.encode(Transfer.create({ dest: hex(destHex), amount: hex(amountHex) })).finish();
const body = ExtrinsicBody.encode(ExtrinsicBody.create({
  signer: Buffer.from(keys.publicKey),
  nonce: Number(nonce),          // explicit, even when 0
  tip: Buffer.alloc(0),          // explicit empty bytes: a zero tip
  valid_until: 0,                // explicit: immortal
  genesis_hash: hex(genesisHex),
  call: { pallet: "token", call_index: Number(callIndex), args },
})).finish();
const signature = nacl.sign.detached(body, keys.secretKey);
const extrinsic = Extrinsic.encode(Extrinsic.create({ signed: { body, signature: Buffer.from(signature) } })).finish();
process.stdout.write(JSON.stringify({
  extrinsic: Buffer.from(extrinsic).toString("hex"),
  body: Buffer.from(body).toString("hex"),
}) + "\n");
