package com.github.quiverdata.quiver.jdbc;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * DatabaseMetaData as DBeaver and Tableau use it on connect: product and dialect facts
 * (Flight SQL GetSqlInfo), catalogs, schemas, tables, columns, types and keys (GetCatalogs,
 * GetDbSchemas, GetTables, GetXdbcTypeInfo, GetPrimaryKeys, ...).
 *
 * <p>Quiver's model, as the server documents it: one catalog "memory" (DuckDB's name for
 * the engine's database) with one schema "main"; every dataset is a table of type
 * "TABLE" named like the dataset without ".parquet"; SQL is read-only.
 */
class MetadataTest {
  static final String CATALOG = "memory";
  static final String SCHEMA = "main";

  private static Connection conn;
  private static DatabaseMetaData md;

  @BeforeAll
  static void connect() throws SQLException {
    conn = Quiver.connect();
    md = conn.getMetaData();
  }

  @AfterAll
  static void close() throws SQLException {
    if (conn != null) {
      conn.close();
    }
  }

  @Test
  void productAndDriver() throws SQLException {
    assertEquals("Quiver", md.getDatabaseProductName());
    assertFalse(md.getDatabaseProductVersion().isBlank(), "product version");
    assertEquals("Arrow Flight SQL JDBC Driver Core", md.getDriverName()); // sic, in 18.3.0
    assertFalse(md.getDriverVersion().isBlank());
    assertEquals(Quiver.url(), md.getURL());
  }

  @Test
  void quiverIsReadOnlyWithoutTransactions() throws SQLException {
    assertAll(
        () -> assertTrue(md.isReadOnly(), "isReadOnly"),
        () -> assertTrue(conn.isReadOnly(), "Connection.isReadOnly"),
        () -> assertFalse(md.supportsTransactions(), "supportsTransactions"),
        () -> assertEquals(Connection.TRANSACTION_NONE, md.getDefaultTransactionIsolation()),
        () -> assertFalse(md.supportsBatchUpdates(), "supportsBatchUpdates"),
        () -> assertFalse(md.supportsSavepoints(), "supportsSavepoints"),
        () -> assertFalse(md.supportsSelectForUpdate(), "supportsSelectForUpdate"),
        () -> assertFalse(md.supportsStoredProcedures(), "supportsStoredProcedures"),
        () -> assertFalse(md.supportsPositionedDelete(), "supportsPositionedDelete"),
        () -> assertFalse(md.supportsPositionedUpdate(), "supportsPositionedUpdate"),
        () -> assertFalse(md.dataDefinitionCausesTransactionCommit()),
        () -> assertFalse(md.supportsDataDefinitionAndDataManipulationTransactions()));
  }

  @Test
  void identifiersAndNulls() throws SQLException {
    assertAll(
        () -> assertEquals("\"", md.getIdentifierQuoteString()),
        () -> assertEquals("\\", md.getSearchStringEscape()),
        () -> assertEquals("$", md.getExtraNameCharacters()),
        () -> assertEquals("schema", md.getSchemaTerm()),
        () -> assertEquals("catalog", md.getCatalogTerm()),
        () -> assertEquals("procedure", md.getProcedureTerm()),
        () -> assertTrue(md.isCatalogAtStart()),
        () -> assertEquals(200, md.getMaxTableNameLength()),
        // DuckDB sorts NULLs last, ascending and descending.
        () -> assertTrue(md.nullsAreSortedAtEnd(), "nullsAreSortedAtEnd"),
        () -> assertFalse(md.nullsAreSortedAtStart(), "nullsAreSortedAtStart"),
        () -> assertFalse(md.nullsAreSortedHigh(), "nullsAreSortedHigh"),
        () -> assertFalse(md.nullsAreSortedLow(), "nullsAreSortedLow"),
        () -> assertTrue(md.nullPlusNonNullIsNull()));
  }

  @Test
  void grammar() throws SQLException {
    assertAll(
        () -> assertTrue(md.supportsMinimumSQLGrammar(), "minimum grammar"),
        () -> assertTrue(md.supportsCoreSQLGrammar(), "core grammar"),
        () -> assertFalse(md.supportsExtendedSQLGrammar(), "extended grammar"),
        () -> assertTrue(md.supportsANSI92EntryLevelSQL(), "ANSI92 entry"),
        () -> assertTrue(md.supportsANSI92IntermediateSQL(), "ANSI92 intermediate"),
        () -> assertFalse(md.supportsANSI92FullSQL(), "ANSI92 full"),
        () -> assertTrue(md.supportsColumnAliasing(), "column aliasing"),
        () -> assertTrue(md.supportsTableCorrelationNames(), "table correlation names"),
        () -> assertTrue(md.supportsExpressionsInOrderBy(), "expressions in ORDER BY"),
        () -> assertTrue(md.supportsOrderByUnrelated(), "ORDER BY unrelated"),
        () -> assertTrue(md.supportsGroupBy(), "GROUP BY"),
        () -> assertTrue(md.supportsGroupByUnrelated(), "GROUP BY unrelated"),
        () -> assertTrue(md.supportsGroupByBeyondSelect(), "GROUP BY beyond select"),
        () -> assertTrue(md.supportsLikeEscapeClause(), "LIKE ESCAPE"),
        () -> assertTrue(md.supportsOuterJoins(), "outer joins"),
        // The server sends SQL_OUTER_JOINS_SUPPORT_LEVEL = SQL_FULL_OUTER_JOINS (ordinal
        // 2), as the Flight SQL spec says; driver 18.3.0 reads the value as a bit mask
        // (1 << ordinal), so it answers false here although DuckDB runs FULL OUTER JOIN.
        () -> assertFalse(md.supportsFullOuterJoins(), "full outer joins: driver reads a bit mask"),
        () -> assertTrue(md.supportsLimitedOuterJoins(), "limited outer joins"),
        () -> assertTrue(md.supportsUnion(), "UNION"),
        () -> assertTrue(md.supportsUnionAll(), "UNION ALL"),
        () -> assertTrue(md.supportsSubqueriesInComparisons(), "subqueries in comparisons"),
        () -> assertTrue(md.supportsSubqueriesInExists(), "subqueries in EXISTS"),
        () -> assertTrue(md.supportsSubqueriesInIns(), "subqueries in IN"),
        () -> assertTrue(md.supportsSubqueriesInQuantifieds(), "subqueries in quantifieds"),
        () -> assertTrue(md.supportsCorrelatedSubqueries(), "correlated subqueries"),
        () -> assertTrue(md.supportsConvert(), "CONVERT"),
        () -> assertTrue(md.supportsConvert(Types.BIGINT, Types.VARCHAR), "BIGINT -> VARCHAR"),
        () -> assertTrue(md.supportsConvert(Types.VARCHAR, Types.DATE), "VARCHAR -> DATE"),
        () -> assertFalse(md.supportsConvert(Types.DATE, Types.BIGINT), "DATE -> BIGINT"),
        () -> assertFalse(md.supportsIntegrityEnhancementFacility()),
        () -> assertTrue(md.supportsResultSetType(ResultSet.TYPE_FORWARD_ONLY)),
        () -> assertFalse(md.supportsNamedParameters()));
  }

  @Test
  void keywordsAndFunctions() throws SQLException {
    // DuckDB's own keywords: QUALIFY and PIVOT are not SQL:2003's.
    Set<String> keywords = list(md.getSQLKeywords());
    assertTrue(keywords.containsAll(Set.of("QUALIFY", "PIVOT")), "keywords: " + keywords);
    assertTrue(list(md.getNumericFunctions()).containsAll(Set.of("ABS", "FLOOR", "ROUND")));
    assertTrue(list(md.getStringFunctions()).containsAll(Set.of("UPPER", "LOWER", "SUBSTRING")));
    assertTrue(list(md.getSystemFunctions()).containsAll(Set.of("VERSION", "CURRENT_SCHEMA")));
    assertTrue(list(md.getTimeDateFunctions()).containsAll(Set.of("YEAR", "DATE_TRUNC", "NOW")));
  }

  @Test
  void catalogsAndSchemas() throws SQLException {
    assertEquals(List.of(List.of(CATALOG)), rows(md.getCatalogs(), "TABLE_CAT"));
    List<List<String>> main = List.of(List.of(SCHEMA, CATALOG));
    assertEquals(main, rows(md.getSchemas(), "TABLE_SCHEM", "TABLE_CATALOG"));
    assertEquals(main, rows(md.getSchemas(CATALOG, null), "TABLE_SCHEM", "TABLE_CATALOG"));
    assertEquals(main, rows(md.getSchemas(null, "ma%"), "TABLE_SCHEM", "TABLE_CATALOG"));
    assertEquals(main, rows(md.getSchemas(CATALOG, "main"), "TABLE_SCHEM", "TABLE_CATALOG"));
    assertEquals(List.of(), rows(md.getSchemas(null, "nope%"), "TABLE_SCHEM"));
    assertEquals(List.of(), rows(md.getSchemas("nope", null), "TABLE_SCHEM"));
  }

  @Test
  void tableTypes() throws SQLException {
    assertEquals(List.of(List.of("TABLE")), rows(md.getTableTypes(), "TABLE_TYPE"));
  }

  @Test
  void tablesWithPatternsAndTypes() throws SQLException {
    List<String> all = List.of("sales", "sales_eu", "types");
    assertEquals(all, tableNames(null, null, "%", null));
    assertEquals(all, tableNames(null, null, null, null));
    assertEquals(all, tableNames(CATALOG, SCHEMA, "%", new String[] {"TABLE"}));
    assertEquals(List.of("sales", "sales_eu"), tableNames(null, null, "sales%", null));
    assertEquals(List.of("sales_eu"), tableNames(null, null, "sales\\_eu", null));
    assertEquals(List.of("sales_eu"), tableNames(null, "m_in", "sal_s_e%", null));
    assertEquals(List.of("types"), tableNames(null, null, "types", null));
    // Patterns match names as stored, case included, as JDBC's do.
    assertEquals(List.of(), tableNames(null, null, "SALES", null));
    assertEquals(List.of(), tableNames(null, null, "%", new String[] {"VIEW"}));
    assertEquals(List.of(), tableNames(null, null, "%", new String[] {"SYSTEM TABLE"}));
    assertEquals(List.of(), tableNames("nope", null, "%", null));
    assertEquals(List.of(), tableNames(null, "nope", "%", null));

    try (ResultSet rs = md.getTables(null, null, "sales", null)) {
      assertTrue(rs.next());
      assertEquals(CATALOG, rs.getString("TABLE_CAT"));
      assertEquals(SCHEMA, rs.getString("TABLE_SCHEM"));
      assertEquals("sales", rs.getString("TABLE_NAME"));
      assertEquals("TABLE", rs.getString("TABLE_TYPE"));
      assertFalse(rs.next());
    }
  }

  @Test
  void columnsAndTheirJdbcTypes() throws SQLException {
    // name -> {DATA_TYPE, TYPE_NAME}; TYPE_NAME is DuckDB's type name.
    Map<String, Object[]> want = new LinkedHashMap<>();
    want.put("id", new Object[] {Types.BIGINT, "BIGINT"});
    want.put("region", new Object[] {Types.VARCHAR, "VARCHAR"});
    want.put("amount", new Object[] {Types.DOUBLE, "DOUBLE"});
    want.put("qty", new Object[] {Types.INTEGER, "INTEGER"});
    want.put("sold_on", new Object[] {Types.DATE, "DATE"});
    want.put("sold_at", new Object[] {Types.TIMESTAMP, "TIMESTAMP"});
    want.put("paid", new Object[] {Types.BOOLEAN, "BOOLEAN"});
    want.put("price", new Object[] {Types.DECIMAL, "DECIMAL(10,2)"});
    try (ResultSet rs = md.getColumns(null, null, "sales", "%")) {
      int pos = 0;
      for (Map.Entry<String, Object[]> col : want.entrySet()) {
        assertTrue(rs.next(), "column " + col.getKey());
        pos++;
        String name = col.getKey();
        assertEquals(CATALOG, rs.getString("TABLE_CAT"), name);
        assertEquals(SCHEMA, rs.getString("TABLE_SCHEM"), name);
        assertEquals("sales", rs.getString("TABLE_NAME"), name);
        assertEquals(name, rs.getString("COLUMN_NAME"));
        assertEquals(col.getValue()[0], rs.getInt("DATA_TYPE"), name + " DATA_TYPE");
        assertEquals(col.getValue()[1], rs.getString("TYPE_NAME"), name + " TYPE_NAME");
        assertEquals(pos, rs.getInt("ORDINAL_POSITION"), name);
        assertEquals(DatabaseMetaData.columnNullable, rs.getInt("NULLABLE"), name);
        assertEquals("YES", rs.getString("IS_NULLABLE"), name);
        if (name.equals("price")) {
          assertEquals(Seed.PRICE_PRECISION, rs.getInt("COLUMN_SIZE"), "price COLUMN_SIZE");
          assertEquals(Seed.PRICE_SCALE, rs.getInt("DECIMAL_DIGITS"), "price DECIMAL_DIGITS");
        }
      }
      assertFalse(rs.next());
    }

    // The rarer types, and a column name pattern.
    Map<String, Integer> types = new LinkedHashMap<>();
    try (ResultSet rs = md.getColumns(CATALOG, SCHEMA, "types", "c%")) {
      while (rs.next()) {
        types.put(rs.getString("COLUMN_NAME"), rs.getInt("DATA_TYPE"));
      }
    }
    Map<String, Integer> wantTypes = new LinkedHashMap<>();
    wantTypes.put("c_tinyint", Types.TINYINT);
    wantTypes.put("c_smallint", Types.SMALLINT);
    wantTypes.put("c_real", Types.FLOAT); // the driver maps float32 to FLOAT
    wantTypes.put("c_time", Types.TIME);
    wantTypes.put("c_timestamptz", Types.TIMESTAMP_WITH_TIMEZONE);
    wantTypes.put("c_blob", Types.VARBINARY);
    assertEquals(wantTypes, types);

    assertEquals(List.of("sold_on", "sold_at"), columnNames("sales", "sold%"));
    assertEquals(List.of("sold_on"), columnNames("sales", "sold_on"));
  }

  /**
   * ResultSetMetaData of a query agrees with getColumns for every column of every seeded
   * table: precision (COLUMN_SIZE) and scale (DECIMAL_DIGITS), JDBC type, table, schema
   * and catalog. (getColumnTypeName is the driver's own name of the JDBC type, "DECIMAL"
   * for DECIMAL(10,2): it does not read the TYPE_NAME the server sends.) DBeaver showed 0 for DATE, TIMESTAMP and DOUBLE results where getColumns
   * said 10/0 and 26/6, and no table for {@code SELECT * FROM t}. Strings and blobs are
   * the exception: the server knows no length for them, and the driver makes one up
   * (65536) for getColumns only.
   */
  @Test
  void resultSetMetaDataMatchesGetColumns() throws SQLException {
    // column -> {precision, scale} where the type fixes them.
    Map<String, int[]> sizes = new LinkedHashMap<>();
    sizes.put("id", new int[] {19, 0});
    sizes.put("amount", new int[] {15, 0});
    sizes.put("qty", new int[] {10, 0});
    sizes.put("sold_on", new int[] {10, 0});
    sizes.put("sold_at", new int[] {26, 6});
    sizes.put("paid", new int[] {1, 0});
    sizes.put("price", new int[] {Seed.PRICE_PRECISION, Seed.PRICE_SCALE});
    sizes.put("c_tinyint", new int[] {3, 0});
    sizes.put("c_smallint", new int[] {5, 0});
    sizes.put("c_real", new int[] {7, 0});
    sizes.put("c_time", new int[] {15, 6});
    sizes.put("c_timestamptz", new int[] {32, 6});
    Set<String> checked = new TreeSet<>();
    for (String table : List.of("sales", "types")) {
      try (Statement st = conn.createStatement();
          ResultSet rs = st.executeQuery("SELECT * FROM " + table);
          ResultSet cols = md.getColumns(CATALOG, SCHEMA, table, "%")) {
        ResultSetMetaData rsmd = rs.getMetaData();
        for (int i = 1; i <= rsmd.getColumnCount(); i++) {
          assertTrue(cols.next(), table + " column " + i);
          String name = rsmd.getColumnName(i);
          String where = table + "." + name;
          assertEquals(cols.getString("COLUMN_NAME"), name, where);
          assertEquals(table, rsmd.getTableName(i), where + " table");
          assertEquals(SCHEMA, rsmd.getSchemaName(i), where + " schema");
          assertEquals(CATALOG, rsmd.getCatalogName(i), where + " catalog");
          assertEquals(cols.getInt("DATA_TYPE"), rsmd.getColumnType(i), where + " type");
          assertFalse(rsmd.isAutoIncrement(i), where);
          assertTrue(rsmd.isReadOnly(i), where);
          assertTrue(rsmd.isSearchable(i), where);
          int type = rsmd.getColumnType(i);
          if (type == Types.VARCHAR || type == Types.VARBINARY) {
            assertEquals(0, rsmd.getPrecision(i), where + " precision");
            continue;
          }
          assertEquals(cols.getInt("COLUMN_SIZE"), rsmd.getPrecision(i), where + " precision");
          assertEquals(cols.getInt("DECIMAL_DIGITS"), rsmd.getScale(i), where + " scale");
          int[] want = sizes.get(name);
          if (want != null) {
            assertEquals(want[0], rsmd.getPrecision(i), where + " precision");
            assertEquals(want[1], rsmd.getScale(i), where + " scale");
            checked.add(name);
          }
        }
        assertFalse(cols.next(), table + ": getColumns lists more columns than SELECT *");
      }
    }
    assertEquals(new TreeSet<>(sizes.keySet()), checked);

    // A computed column is of no table (the driver says null); a column read through
    // a filter still is.
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT qty * 2 AS twice, region FROM sales WHERE qty > 0")) {
      String computed = rs.getMetaData().getTableName(1);
      assertTrue(computed == null || computed.isEmpty(), "computed column's table: " + computed);
      assertEquals("sales", rs.getMetaData().getTableName(2));
    }
  }

  /**
   * The driver filters getColumns' column pattern itself (the server sees only the
   * table pattern), and in 18.3.0 it does not honour the search string escape: "c\\_%"
   * matches nothing, where the server's table patterns do honour it.
   */
  @Test
  void columnPatternEscapeIsIgnoredByTheDriver() throws SQLException {
    assertEquals(List.of(), columnNames("types", "c\\_%"));
    assertEquals(6, columnNames("types", "c_%").size());
  }

  private static List<String> columnNames(String table, String pattern) throws SQLException {
    List<String> names = new ArrayList<>();
    try (ResultSet rs = md.getColumns(null, null, table, pattern)) {
      while (rs.next()) {
        names.add(rs.getString("COLUMN_NAME"));
      }
    }
    return names;
  }

  /**
   * getTypeInfo would come from GetXdbcTypeInfo, but driver 18.3.0 does not implement it:
   * Avatica's default answers with no rows and the server is never asked. Once a driver
   * version does, its rows must map DuckDB's types as below.
   */
  @Test
  void typeInfo() throws SQLException {
    boolean driverImplementsIt = true;
    try {
      md.getClass().getDeclaredMethod("getTypeInfo");
    } catch (NoSuchMethodException e) {
      driverImplementsIt = false;
    }
    if (!driverImplementsIt) {
      try (ResultSet rs = md.getTypeInfo()) {
        assertFalse(rs.next(), "Avatica's default getTypeInfo has rows?");
      }
      return;
    }
    Map<String, Integer> got = new LinkedHashMap<>();
    try (ResultSet rs = md.getTypeInfo()) {
      while (rs.next()) {
        got.put(rs.getString("TYPE_NAME"), rs.getInt("DATA_TYPE"));
      }
    }
    Map<String, Integer> want =
        Map.of(
            "BIGINT", Types.BIGINT,
            "INTEGER", Types.INTEGER,
            "DOUBLE", Types.DOUBLE,
            "VARCHAR", Types.VARCHAR,
            "BOOLEAN", Types.BOOLEAN,
            "DATE", Types.DATE,
            "TIMESTAMP", Types.TIMESTAMP,
            "DECIMAL", Types.DECIMAL);
    for (Map.Entry<String, Integer> e : want.entrySet()) {
      assertEquals(e.getValue(), got.get(e.getKey()), "getTypeInfo " + e.getKey() + " in " + got);
    }
  }

  /**
   * Datasets have no keys. (The server sends a zero-row batch of the Flight SQL schema;
   * driver 18.3.0 reports an empty metadata result with no columns at all, so only the
   * absence of rows can be checked here.)
   */
  @Test
  void keysAreEmpty() throws SQLException {
    try (ResultSet rs = md.getPrimaryKeys(CATALOG, SCHEMA, "sales")) {
      assertFalse(rs.next(), "datasets have no primary keys");
    }
    try (ResultSet rs = md.getImportedKeys(CATALOG, SCHEMA, "sales")) {
      assertFalse(rs.next(), "datasets have no foreign keys");
    }
    try (ResultSet rs = md.getExportedKeys(CATALOG, SCHEMA, "sales")) {
      assertFalse(rs.next());
    }
    try (ResultSet rs = md.getCrossReference(CATALOG, SCHEMA, "sales", CATALOG, SCHEMA, "types")) {
      assertFalse(rs.next());
    }
  }

  /**
   * Every DatabaseMetaData method a tool may call on connect answers without throwing:
   * each no-argument method, and each lookup with null catalogs and "%" patterns.
   */
  @Test
  void noMetadataCallThrows() {
    List<String> failures = new ArrayList<>();
    List<Method> methods = new ArrayList<>(Arrays.asList(DatabaseMetaData.class.getMethods()));
    methods.sort((a, b) -> a.toString().compareTo(b.toString()));
    int called = 0;
    for (Method m : methods) {
      if (Modifier.isStatic(m.getModifiers())
          || m.getDeclaringClass() != DatabaseMetaData.class
          || SKIP.contains(m.getName())) {
        continue;
      }
      Object[] args = argsFor(m);
      if (args == null) {
        continue;
      }
      called++;
      try {
        Object res = m.invoke(md, args);
        if (res instanceof ResultSet rs) {
          try (rs) {
            while (rs.next()) {
              for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                rs.getObject(i);
              }
            }
          }
        }
      } catch (InvocationTargetException e) {
        if (DRIVER_TODO.contains(m.getName())
            && "todo: implement this method".equals(e.getCause().getMessage())) {
          continue; // Avatica's, before any request reaches the server
        }
        failures.add(m.getName() + Arrays.toString(args) + ": " + e.getCause());
      } catch (ReflectiveOperationException | SQLException | RuntimeException e) {
        failures.add(m.getName() + Arrays.toString(args) + ": " + e);
      }
    }
    assertTrue(called > 150, "called only " + called + " methods");
    if (!failures.isEmpty()) {
      fail(failures.size() + " DatabaseMetaData calls threw:\n  " + String.join("\n  ", failures));
    }
  }

  // Methods that take no part in this check: unwrap/isWrapperFor need a class,
  // getConnection returns the connection.
  private static final Set<String> SKIP = Set.of("unwrap", "isWrapperFor", "getConnection");

  // Methods driver 18.3.0 leaves to Avatica, which throws "todo: implement this method"
  // without asking the server. A tool that calls them gets that from any Flight SQL server.
  private static final Set<String> DRIVER_TODO =
      Set.of("deletesAreDetected", "insertsAreDetected", "updatesAreDetected",
          "othersDeletesAreVisible", "othersInsertsAreVisible", "othersUpdatesAreVisible",
          "ownDeletesAreVisible", "ownInsertsAreVisible", "ownUpdatesAreVisible",
          "supportsResultSetHoldability");

  /** Arguments that mean "everything" for m, or null when m takes some other kind. */
  private static Object[] argsFor(Method m) {
    Class<?>[] params = m.getParameterTypes();
    Object[] args = new Object[params.length];
    String table = "sales";
    for (int i = 0; i < params.length; i++) {
      Class<?> p = params[i];
      if (p == String.class) {
        // Lookups that need an exact table name (keys, privileges) get one; patterns "%".
        args[i] = m.getName().matches("get(Primary|Imported|Exported)Keys|getBestRowIdentifier"
            + "|getVersionColumns|getIndexInfo|getCrossReference")
            ? exactArg(m, i, table) : (i == 0 ? null : "%");
      } else if (p == int.class) {
        args[i] = intArg(m.getName());
      } else if (p == boolean.class) {
        args[i] = false;
      } else if (p == String[].class || p == int[].class) {
        args[i] = null;
      } else {
        return null;
      }
    }
    return args;
  }

  private static Object exactArg(Method m, int i, String table) {
    // (catalog, schema, table[, catalog, schema, table])
    switch (i % 3) {
      case 0:
        return CATALOG;
      case 1:
        return SCHEMA;
      default:
        return table;
    }
  }

  private static int intArg(String method) {
    switch (method) {
      case "supportsResultSetType":
      case "supportsResultSetConcurrency":
      case "ownUpdatesAreVisible":
      case "ownDeletesAreVisible":
      case "ownInsertsAreVisible":
      case "othersUpdatesAreVisible":
      case "othersDeletesAreVisible":
      case "othersInsertsAreVisible":
      case "updatesAreDetected":
      case "deletesAreDetected":
      case "insertsAreDetected":
        return ResultSet.TYPE_FORWARD_ONLY;
      case "supportsResultSetHoldability":
        return ResultSet.CLOSE_CURSORS_AT_COMMIT;
      case "supportsTransactionIsolationLevel":
        return Connection.TRANSACTION_NONE;
      case "getBestRowIdentifier":
        return DatabaseMetaData.bestRowSession;
      default:
        return Types.VARCHAR; // supportsConvert
    }
  }

  private static Set<String> list(String csv) {
    Set<String> s = new TreeSet<>();
    for (String part : csv.split(",")) {
      if (!part.isBlank()) {
        s.add(part.trim().toUpperCase());
      }
    }
    return s;
  }

  private static List<String> tableNames(String catalog, String schema, String pattern,
      String[] types) throws SQLException {
    List<String> names = new ArrayList<>();
    try (ResultSet rs = md.getTables(catalog, schema, pattern, types)) {
      while (rs.next()) {
        names.add(rs.getString("TABLE_NAME"));
      }
    }
    names.sort(null);
    return names;
  }

  private static List<List<String>> rows(ResultSet rs, String... columns) throws SQLException {
    List<List<String>> out = new ArrayList<>();
    try (rs) {
      while (rs.next()) {
        List<String> row = new ArrayList<>();
        for (String c : columns) {
          row.add(rs.getString(c));
        }
        out.add(row);
      }
    }
    return out;
  }

}
