package com.github.quiverdata.quiver.jdbc;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.function.Consumer;
import org.apache.arrow.flight.AsyncPutListener;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightDescriptor;
import org.apache.arrow.flight.Location;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TimeMicroVector;
import org.apache.arrow.vector.TimeStampMicroTZVector;
import org.apache.arrow.vector.TimeStampMicroVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * The datasets the suite queries, and the values the tests expect back. They are put
 * over plain Flight DoPut with Arrow Java's own Flight client (flight-core), as a Java
 * user of Quiver would upload data; the JDBC driver has no upload.
 *
 * <ul>
 *   <li>{@code sales.parquet} (table {@code sales}): the common JDBC types, one row of
 *       nulls.
 *   <li>{@code sales_eu.parquet} (table {@code sales_eu}): for name patterns, where
 *       {@code _} is a LIKE wildcard.
 *   <li>{@code types.parquet} (table {@code types}): the narrower and rarer types (int8,
 *       int16, float32, time, timestamp with time zone, binary), one row of values and
 *       one of nulls.
 * </ul>
 */
final class Seed {
  private Seed() {}

  /** One row of {@code sales}; null fields are SQL NULLs. */
  record Sale(
      Long id,
      String region,
      Double amount,
      Integer qty,
      LocalDate soldOn,
      LocalDateTime soldAt,
      Boolean paid,
      BigDecimal price) {}

  static final int PRICE_PRECISION = 10;
  static final int PRICE_SCALE = 2;

  static final List<Sale> SALES =
      List.of(
          new Sale(1L, "north", 10.5, 3, LocalDate.of(2024, 1, 15),
              LocalDateTime.of(2024, 1, 15, 9, 30), true, new BigDecimal("12.34")),
          new Sale(2L, "south", 20.25, 1, LocalDate.of(2024, 2, 29),
              LocalDateTime.of(2024, 2, 29, 23, 59, 59, 123_456_000), false,
              new BigDecimal("99999999.99")),
          new Sale(3L, "north", -3.75, 7, LocalDate.of(1969, 12, 31),
              LocalDateTime.of(1969, 12, 31, 23, 0), true, new BigDecimal("-0.01")),
          new Sale(4L, "wëst — 東", 0.0, 0, LocalDate.of(2030, 6, 1),
              LocalDateTime.of(2030, 6, 1, 12, 0), false, new BigDecimal("0.00")),
          new Sale(5L, null, null, null, null, null, null, null));

  static final List<Sale> SALES_EU =
      List.of(
          new Sale(100L, "eu", 1.0, 1, LocalDate.of(2024, 3, 1),
              LocalDateTime.of(2024, 3, 1, 0, 0), true, new BigDecimal("1.00")));

  // The one non-null row of `types`; the second row is all nulls.
  static final byte TINY = -7;
  static final short SMALL = -32000;
  static final float REAL = 1.5f;
  static final LocalTime TIME = LocalTime.of(13, 14, 15, 678_000);
  static final Instant INSTANT = Instant.parse("2024-05-06T07:08:09.123456Z");
  static final byte[] BLOB = "\0quiver\u00ff".getBytes(StandardCharsets.ISO_8859_1);

  static void putAll(String host, int port) throws Exception {
    try (BufferAllocator alloc = new RootAllocator();
        FlightClient client =
            FlightClient.builder(alloc, Location.forGrpcInsecure(host, port)).build()) {
      put(client, alloc, "sales.parquet", sales(alloc, SALES));
      put(client, alloc, "sales_eu.parquet", sales(alloc, SALES_EU));
      put(client, alloc, "types.parquet", types(alloc));
    }
  }

  /** Puts root as dataset name (replacing it) and closes root. */
  private static void put(FlightClient client, BufferAllocator alloc, String name,
      VectorSchemaRoot root) {
    try (root) {
      FlightClient.ClientStreamListener listener =
          client.startPut(FlightDescriptor.path(name), root, new AsyncPutListener());
      listener.putNext();
      listener.completed();
      listener.getResult();
    }
  }

  private static VectorSchemaRoot sales(BufferAllocator alloc, List<Sale> rows) {
    BigIntVector id = new BigIntVector("id", alloc);
    VarCharVector region = new VarCharVector("region", alloc);
    Float8Vector amount = new Float8Vector("amount", alloc);
    IntVector qty = new IntVector("qty", alloc);
    DateDayVector soldOn = new DateDayVector("sold_on", alloc);
    TimeStampMicroVector soldAt = new TimeStampMicroVector("sold_at", alloc);
    BitVector paid = new BitVector("paid", alloc);
    DecimalVector price = new DecimalVector("price", alloc, PRICE_PRECISION, PRICE_SCALE);
    List<FieldVector> cols = List.of(id, region, amount, qty, soldOn, soldAt, paid, price);
    cols.forEach(v -> v.setInitialCapacity(rows.size()));
    cols.forEach(FieldVector::allocateNew);
    for (int i = 0; i < rows.size(); i++) {
      Sale s = rows.get(i);
      final int row = i;
      set(s.id(), v -> id.setSafe(row, v), () -> id.setNull(row));
      set(s.region(), v -> region.setSafe(row, v.getBytes(StandardCharsets.UTF_8)),
          () -> region.setNull(row));
      set(s.amount(), v -> amount.setSafe(row, v), () -> amount.setNull(row));
      set(s.qty(), v -> qty.setSafe(row, v), () -> qty.setNull(row));
      set(s.soldOn(), v -> soldOn.setSafe(row, (int) v.toEpochDay()), () -> soldOn.setNull(row));
      set(s.soldAt(), v -> soldAt.setSafe(row, micros(v.toInstant(ZoneOffset.UTC))),
          () -> soldAt.setNull(row));
      set(s.paid(), v -> paid.setSafe(row, v ? 1 : 0), () -> paid.setNull(row));
      set(s.price(), v -> price.setSafe(row, v), () -> price.setNull(row));
    }
    return finish(cols, rows.size());
  }

  private static VectorSchemaRoot types(BufferAllocator alloc) {
    TinyIntVector tiny = new TinyIntVector("c_tinyint", alloc);
    SmallIntVector small = new SmallIntVector("c_smallint", alloc);
    Float4Vector real = new Float4Vector("c_real", alloc);
    TimeMicroVector time = new TimeMicroVector("c_time", alloc);
    TimeStampMicroTZVector tstz = new TimeStampMicroTZVector("c_timestamptz", alloc, "UTC");
    VarBinaryVector blob = new VarBinaryVector("c_blob", alloc);
    List<FieldVector> cols = List.of(tiny, small, real, time, tstz, blob);
    cols.forEach(v -> v.setInitialCapacity(2));
    cols.forEach(FieldVector::allocateNew);
    tiny.setSafe(0, TINY);
    small.setSafe(0, SMALL);
    real.setSafe(0, REAL);
    time.setSafe(0, TIME.toNanoOfDay() / 1000);
    tstz.setSafe(0, micros(INSTANT));
    blob.setSafe(0, BLOB);
    for (FieldVector v : cols) {
      v.setNull(1);
    }
    return finish(cols, 2);
  }

  private static VectorSchemaRoot finish(List<FieldVector> cols, int rows) {
    VectorSchemaRoot root = new VectorSchemaRoot(cols);
    root.setRowCount(rows);
    return root;
  }

  private static long micros(Instant t) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, t);
  }

  private static <T> void set(T value, Consumer<T> set, Runnable setNull) {
    if (value == null) {
      setNull.run();
    } else {
      set.accept(value);
    }
  }
}
