import { expect } from "chai";
import { Metadata } from "@grpc/grpc-js";
import { addressWithoutPort, incomingMetadata, incomingOverLimits } from "../../../lib/hosts/grpc/incoming.js";

describe("addressWithoutPort(peer)", () => {
  it("drops the port of grpc-js's peer strings, IPv4 and unbracketed IPv6 alike", () => {
    expect(addressWithoutPort("127.0.0.1:53124")).to.equal("127.0.0.1");
    expect(addressWithoutPort("::1:53124")).to.equal("::1");
    expect(addressWithoutPort("::ffff:10.0.0.7:443")).to.equal("::ffff:10.0.0.7");
    expect(addressWithoutPort("unix:/tmp/s")).to.equal("unix:/tmp/s");
  });
});

describe("incomingMetadata(metadata) / incomingOverLimits()", () => {
  it("splits text entries from -bin entries (bytes), first value of a repeated key", () => {
    const metadata = new Metadata();
    metadata.add("x-id", "1");
    metadata.add("x-id", "2");
    metadata.set("trace-bin", Buffer.from([1, 2]));
    const incoming = incomingMetadata(metadata);
    expect(incoming.text).to.include({ "x-id": "1" });
    expect([...incoming.binary]).to.deep.equal([["trace-bin", Buffer.from([1, 2])]]);
  });

  it("counts -bin entries and their byte length against the limits", () => {
    const metadata = new Metadata();
    metadata.set("a", "1");
    metadata.set("big-bin", Buffer.alloc(100));
    const limits = { maxMetadataEntries: 2, maxMetadataValueBytes: 64 };
    expect(incomingOverLimits(incomingMetadata(metadata), limits)).to.equal('the value of metadata key "big-bin" over 64 bytes');
    metadata.set("small-bin", Buffer.alloc(1));
    expect(incomingOverLimits(incomingMetadata(metadata), limits)).to.equal("more than 2 metadata entries");
    expect(incomingOverLimits(incomingMetadata(metadata), { maxMetadataEntries: 3, maxMetadataValueBytes: 100 })).to.equal(undefined);
  });
});
